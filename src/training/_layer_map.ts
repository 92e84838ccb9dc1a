// How TensorFlow.js layer classes map to PyTorch module types and parameter layouts.

/** A parameter of a layer class: its PyTorch name and the tf-to-torch axis permutation. */
export interface ParamMap {
  /** The PyTorch parameter name (`weight`, `bias`, `running_mean`, ...). */
  readonly name: string;
  /** `torch[i_0, ...] = tf[...]` with torch dim k taken from tf axis `perm[k]`; absent = same. */
  readonly perm?: readonly number[];
  /** A reshape after the permutation (depthwise kernels: `[in, mult, kh, kw]` → `[in*mult, 1, kh, kw]`). */
  readonly merge?: "depthwise";
}

/** A layer class: the module type (a function of the input rank for BatchNorm) and its params. */
interface LayerMap {
  readonly type: string | ((rank: number) => string);
  readonly params: Readonly<Record<string, ParamMap>>;
}

const weightBias = (perm: readonly number[]) => ({
  kernel: { name: "weight", perm },
  bias: { name: "bias" },
});

const recurrent = {
  kernel: { name: "weight_ih", perm: [1, 0] },
  recurrent_kernel: { name: "weight_hh", perm: [1, 0] },
  bias: { name: "bias" },
};

/** Layer classes with parameters, by TensorFlow.js class name. */
export const LAYERS: Readonly<Record<string, LayerMap>> = {
  Dense: { type: "Linear", params: weightBias([1, 0]) },
  Conv1D: { type: "Conv1d", params: weightBias([2, 1, 0]) },
  Conv2D: { type: "Conv2d", params: weightBias([3, 2, 0, 1]) },
  Conv3D: { type: "Conv3d", params: weightBias([4, 3, 0, 1, 2]) },
  Conv2DTranspose: { type: "ConvTranspose2d", params: weightBias([3, 2, 0, 1]) },
  DepthwiseConv2D: {
    type: "Conv2d",
    params: {
      depthwise_kernel: { name: "weight", perm: [2, 3, 0, 1], merge: "depthwise" },
      bias: { name: "bias" },
    },
  },
  BatchNormalization: {
    type: (rank) => (rank >= 5 ? "BatchNorm3d" : rank === 4 ? "BatchNorm2d" : "BatchNorm1d"),
    params: {
      gamma: { name: "weight" },
      beta: { name: "bias" },
      moving_mean: { name: "running_mean" },
      moving_variance: { name: "running_var" },
    },
  },
  LayerNormalization: {
    type: "LayerNorm",
    params: { gamma: { name: "weight" }, beta: { name: "bias" } },
  },
  Embedding: { type: "Embedding", params: { embeddings: { name: "weight" } } },
  PReLU: { type: "PReLU", params: { alpha: { name: "weight" } } },
  // Keras's gate order is kept; the kernels are PyTorch's `weight_ih`/`weight_hh` transposed.
  LSTM: { type: "LSTM", params: recurrent },
  GRU: { type: "GRU", params: recurrent },
  SimpleRNN: { type: "RNN", params: recurrent },
};

/** Parameter-free layer classes, by TensorFlow.js class name. */
export const PLAIN_LAYERS: Readonly<Record<string, string>> = {
  ReLU: "ReLU",
  LeakyReLU: "LeakyReLU",
  ELU: "ELU",
  Softmax: "Softmax",
  ThresholdedReLU: "Threshold",
  Dropout: "Dropout",
  Flatten: "Flatten",
  MaxPooling1D: "MaxPool1d",
  MaxPooling2D: "MaxPool2d",
  AveragePooling1D: "AvgPool1d",
  AveragePooling2D: "AvgPool2d",
  GlobalAveragePooling1D: "AdaptiveAvgPool1d",
  GlobalAveragePooling2D: "AdaptiveAvgPool2d",
  GlobalMaxPooling2D: "AdaptiveMaxPool2d",
};

/** `Activation` layers by their activation's name. */
export const ACTIVATIONS: Readonly<Record<string, string>> = {
  relu: "ReLU",
  relu6: "ReLU6",
  elu: "ELU",
  selu: "SELU",
  sigmoid: "Sigmoid",
  hard_sigmoid: "Hardsigmoid",
  tanh: "Tanh",
  softmax: "Softmax",
  softplus: "Softplus",
  softsign: "Softsign",
  gelu: "GELU",
  gelu_new: "GELU",
  swish: "SiLU",
  mish: "Mish",
  linear: "Identity",
};
