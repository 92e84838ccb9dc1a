/**
 * TensorFlow.js recurrent cells: the layer class whose weights a cell has, and the cell of a
 * stack a weight belongs to. Shared by the file view (`tfjsModel`) and the training view
 * (`describeTfModel`).
 *
 * @module
 */

/** The TensorFlow.js recurrent layer class whose weights a cell class has (`GRUCell` -> `GRU`). */
export const CELL_LAYER: Readonly<Record<string, string>> = {
  LSTMCell: "LSTM",
  GRUCell: "GRU",
  SimpleRNNCell: "SimpleRNN",
};

/**
 * The index of a cell of a tfjs `StackedRNNCells` from the scope segment its weights are under
 * (`RNNCell_1` -> 1), or NaN.
 */
export function stackedCellIndex(segment: string | undefined): number {
  return Number(/_(\d+)$/.exec(segment ?? "")?.[1] ?? NaN);
}
