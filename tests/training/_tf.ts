// TensorFlow.js on the CPU backend for tests, without the "install tfjs-node" banner.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers"; // also registers the gradients of the core ops

tf.env().set("PROD", true);
await tf.setBackend("cpu");

export { tf, tfl };

/** A deterministic pseudo-random float32 array in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}
