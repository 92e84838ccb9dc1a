// The custom layers of UpscalerJS's ESRGAN models (`@upscalerjs/esrgan-thick`, `-legacy`'s GAN
// model), registered with tfjs before a model is loaded: `MultiplyBeta` scales its input by 0.2,
// `PixelShuffle<s>x` is depth-to-space by s into 3 channels. For `--tfjs-setup` of the CLI and
// `--setup` of bench/tfjs_models_dir.ts.
const input = (x) => Array.isArray(x) ? x[0] : x;

export default function setup(tf) {
  class MultiplyBeta extends tf.layers.Layer {
    static className = "MultiplyBeta";
    call(x) {
      return tf.mul(input(x), 0.2);
    }
  }
  tf.serialization.registerClass(MultiplyBeta);
  for (const s of [2, 3, 4, 8]) {
    const PixelShuffle = class extends tf.layers.Layer {
      static className = `PixelShuffle${s}x`;
      computeOutputShape([n, h, w]) {
        return [n, h === null ? null : h * s, w === null ? null : w * s, 3];
      }
      call(x) {
        return tf.depthToSpace(input(x), s, "NHWC");
      }
    };
    tf.serialization.registerClass(PixelShuffle);
  }
}
