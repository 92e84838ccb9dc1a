// TensorFlow.js on the CPU backend, quiet.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";

tf.env().set("PROD", true);
await tf.setBackend("cpu");

export { tf, tfl };
