/**
 * The help texts of the CLI.
 *
 * @module
 */

import { PRUNER_TABLE, QUANTIZER_ALGORITHMS } from "../config/algorithms.ts";

const PRUNERS = PRUNER_TABLE.map((p, i) =>
  `                        ${p.name} / ${p.algorithm}${i === 0 ? " (default)" : ""}: ${p.metric}, ${
    p.granularity === "element" ? "element by element" : "whole output channels"
  }`
).join("\n");

const REGISTRY =
  `  --registry <r>        default targets for module classes that have none (LSTM, GRU,
                        custom), like NNI's register: a JSON file or inline JSON,
                        {"LSTM":{"weight_ih":{...},"weight_hh":{...}}} or by mode
                        {"quantization":{"LSTM":{...}}}; naming a module's parameters in
                        target_names works without it`;

const EXTERNAL =
  `  --external-data[=<f>] write the large tensors to the data file <f> next to the output
                        (default <output>.data; done anyway past 2 GB, protobuf's limit); a
                        model's own external data files are read from its folder`;

const COMMON = `  --json           print machine-readable JSON on stdout
  --progress <p>   auto (default: a bar on a terminal, nothing otherwise), bar, lines
                   (a log line per stage and every 2 s, with ETA), none
  --debug          print stack traces of errors
  -h, --help       show this help`;

/** The help of each command, and of the top level under `""`. */
export const USAGE: Readonly<Record<string, string>> = {
  "": `nncompress — NNI v3 compression config lists on ONNX and safetensors models

Usage: nncompress <command> [options]

Commands:
  inspect <model>                     list modules, types and parameter shapes
  explain <model> --config <c>        show what a config list selects and configures
  prune <model> --config <c> -o <out> prune weights (masks written into the model)
  quantize <model> --config <c> -o <out>
                                      quantize weights (fake-quantized values written back)
  variants <model.onnx> -o <dir>      the transformers.js variant files (model_fp16.onnx,
                                      model_quantized.onnx, model_q4.onnx, …)
  eval <model> [--reference <m>]      PP-OCR models on the bundled labelled lines; any ONNX
                                      or tfjs model against a reference on random inputs
  report <report.json>                print a saved report; write it as HTML with -o

A config list <c> is a JSON file or inline JSON: '[{"op_types":["Linear"],"sparse_ratio":0.5}]'.
Exit codes: 0 ok, 1 failed, 2 usage, 3 nothing changed (an empty config list or one that
selects no target: no output is written unless --allow-unchanged), 130/143 interrupted
(SIGINT/SIGTERM; temporary files are removed). Run "nncompress <command> --help" for its options.`,
  inspect: `Usage: nncompress inspect <model.onnx|model.safetensors> [options]

Lists every module (the names op_names selects), its type, op type and parameters.

Options:
${COMMON}`,
  explain: `Usage: nncompress explain <model> --config <file|json> [options]

Shows, per sub-config, the modules it selects and the setting each target gets (and from
which sub-config), with every warning and issue. Exits 1 when the list has issues.

Options:
  -c, --config <c>      the config list: a JSON file or inline JSON (required)
  -m, --mode <mode>     pruning, quantization or distillation (default: read from the
                        list's keys — quant_dtype means quantization — else pruning)
  -a, --algorithm <a>   whose defaults apply, exactly as prune and quantize with the same -a
                        (default: ${PRUNER_TABLE[0].algorithm} for pruning, ${
    QUANTIZER_ALGORITHMS[0]
  } for quantization)
${REGISTRY}
${COMMON}`,
  prune: `Usage: nncompress prune <model> --config <file|json> -o <out> [options]

Computes the pruner's metric and masks for every configured target and writes the model with
the masked weights (same format as the input). The output is written atomically.

Options:
  -c, --config <c>      the config list: a JSON file or inline JSON (required)
  -o, --output <path>   the compressed model (required)
${EXTERNAL}
${REGISTRY}
  -a, --algorithm <a>   the pruner, by short or NNI class name:
${PRUNERS}
                        SparseGPT: layer by layer with error compensation (needs
                        --calibration), at each target's sparse_ratio or --pattern n:m
  --calibration <c>     input batches for -a wanda and -a SparseGPT (ONNX, onnxruntime-node),
                        as for quantize; safetensors models with -a SparseGPT: a safetensors
                        file of each Linear module's input rows, <module>.input [rows, in]
  --pattern <n:m>       with -a SparseGPT: prune n of every m weights along the input (2:4)
  --reconstruct <c>     refit the pruned model's Conv/Gemm/MatMul weights layer by layer so
                        each layer's outputs match the original's on these input batches
                        (least squares, ONNX, onnxruntime-node; same forms as --calibration;
                        keep them apart from the data you evaluate on)
  --rank-channels <r>   with --reconstruct: metric (default: the pruner's) or removal-scores:
                        weights pruned by output channel lose the channels whose readers
                        vary least on the --reconstruct batches (channelRemovalScores)
  --skip-depthwise      with --reconstruct: leave depthwise convs as pruned
  --min-rows-per-column <r>
                        with --reconstruct: leave a layer with fewer calibration rows than r
                        per weight column as pruned (1: no underdetermined fits)
  --remove-channels     ONNX: give coupled modules (residual adds, depthwise convs and their
                        parents, squeeze-and-excitation, BatchNorms) one channel mask and
                        remove the emptied channels from the written model, which keeps
                        the masked model's outputs (smaller and faster; explain lists the
                        groups)
  --channel-multiple <n>
                        with --remove-channels: channel counts that were multiples of n stay
                        multiples of n (default 8, for onnxruntime's blocked CPU kernels; 1
                        removes every emptied channel, faster on models with large maps)
  --shard-bytes <n>     TensorFlow.js model.json: the largest weight shard written
                        (default 4194304, the converter's)
  --max-shard-size <s>  safetensors: write -o <name>.safetensors.index.json and shards of at
                        most <s> (5GB, 500MB, bytes), named <name>-00001-of-0000n.safetensors
  -r, --report <path>   also write a report (.html or .json; repeatable); reports are written
                        before the model, so a failed report leaves no model behind
  --eval                evaluate the original and the result (PP-OCR models, see eval;
                        any other ONNX model is compared with the original as eval
                        --reference does, with --input, --class-axis, --iou, --steps), and
                        time both (--runs, --backend, --threads as for eval)
  --allow-unchanged     write the copy even when the list selects no target (else exit 3)
  --threads <n>         worker threads for a safetensors model's tensors (default: all cores,
                        one under 64 MiB; the output is the same for any n)
  --input <NAME=SPEC>   one model input (repeatable): a shape (x=1,576: symbolic dims are
                        bound by name across inputs), a fill (state=zeros, ones, random), a
                        constant (sr=16000:int64), a data file (x=x.npy, x=in.safetensors#t);
                        an integer scalar is never random unless asked (sr=random)
${COMMON}`,
  quantize: `Usage: nncompress quantize <model> --config <file|json> -o <out> [options]

Computes scales and zero points of every configured weight (NNI's PTQ observer) and writes
the quantized model: integer codes where the format allows, else the fake-quantized weights,
(q - zero_point) * scale, in their float type.

Options:
  -c, --config <c>      the config list: a JSON file or inline JSON (required)
  -o, --output <path>   the compressed model (required)
${EXTERNAL}
${REGISTRY}
  -a, --algorithm <a>   PtqQuantizer (default), or GPTQ: layer by layer with error
                        compensation (needs --calibration; for safetensors models a file of
                        <module>.input [rows, in] tensors; quant_dtype int1..int8, granularity
                        per_channel or [1, G]); written with GPTQ's own codes in every storage
                        below but dynamic, bnb4 and float16 ([1, G] as QDQ from opset 21)
  --act-order           with -a GPTQ: quantize the inputs by decreasing Hessian diagonal
                        (groups then follow that order: --storage nbits writes them
                        with g_idx, QDQ and safetensors storages need --static-groups)
  --static-groups       with --act-order: each group's grid fixed before reordering
  --storage <s>         auto (default): ONNX integer codes with DequantizeLinear when the
                        granularity allows (per-tensor, per-channel), else float; safetensors
                        compressed-tensors (pack-quantized, config.json beside the output)
                        when the scheme fits, else integer codes with scales and zero points;
                        compressed-tensors: that format or an error saying why not; float:
                        fake-quantized values in the original dtype; int: integer codes always
                        (safetensors: codes, scales and zero points); nbits: ONNX MatMul
                        and Gemm weights as MatMulNBits (quant_dtype int4/int8, granularity
                        per_channel, each output channel split into blocks along K);
                        dynamic: ONNX MatMul and Conv weights as int8/uint8 codes run by
                        MatMulInteger/ConvInteger, activations quantized at run time by
                        DynamicQuantizeLinear (quant_dtype int8/uint8, granularity default
                        or per_channel; onnxruntime's quantize_dynamic); bnb4: ONNX MatMul
                        weights as MatMulBnb4 NF4/FP4 codes with an absmax per block
                        (quant_dtype int4); TensorFlow.js model.json: auto/int store tfjs uint8/uint16 codes per
                        tensor, float16 stores the selected weights as float16 (like
                        --quantize_float16); ONNX: float16 converts the computation to
                        float16 (float32 inputs and outputs kept with Casts, the --block-ops
                        operators and the modules the list does not select stay float32)
  --block-ops <ops>     with --storage float16 (ONNX): the operators left in float32, comma-
                        separated, replacing the default list (transformers.js's: Resize,
                        TopK, Min, Max, CumSum, Cast, …); "default" stands for that list
  --block-size <n>      the block of --storage nbits (default 32) or bnb4 (default 64): a
                        power of two >= 16
  --uint8-when-conv     --storage dynamic: int8 weights become uint8 when the model has a Conv
                        (onnxruntime-web has no int8 ConvInteger; transformers.js's rule)
  --reduce-range        --storage dynamic: 7-bit weights (CPUs without VNNI)
  --bnb4-type <t>       --storage bnb4: nf4 (default) or fp4
  --shard-bytes <n>     TensorFlow.js: the largest weight shard written (default 4194304)
  --max-shard-size <s>  safetensors: write -o <name>.safetensors.index.json and shards of at
                        most <s> (5GB, 500MB, bytes), named <name>-00001-of-0000n.safetensors
  --headroom <x>        TensorFlow.js uint8: share of the weight bytes (default 0.02, 0: off)
                        for the weights one uint8 grid per tensor hurts most, stored as
                        float16/uint16 (the result stays within 27% of float32 weights and
                        52% of float16 weights at 0.02)
  --equalize            TensorFlow.js models: cross-layer equalization first (pairs of
                        float32 convolutions or dense layers with ReLU/PReLU/pooling/nothing
                        between them get per-channel scales that cancel), so one uint8 grid
                        fits better
  --equalize-float16    with --equalize: weights stored as float16 are rescaled too (and
                        stored as float16 again, rounded once more)
  --measure-headroom    TensorFlow.js uint8: tfjs (CPU backend) runs the model to give the
                        headroom to the weights whose uint8 storage alone hurts the outputs
                        most per byte (one run per weight), instead of by channel error
  --tfjs-setup <m.js>   TensorFlow.js layers models with custom layers: an ES module whose
                        default export (or setup) takes tf and registers them
                        (tf.serialization.registerClass) before tfjs loads the model
  --calibration <c>     input batches for _input_/_output_ targets (ONNX, onnxruntime-node):
                        a safetensors file with one tensor per model input, rows along dim 0;
                        or ocr-lines:<n>, the first n labelled lines (PP-OCR models).
                        TensorFlow.js: the same file (tensors named as the inputs, x or x:0,
                        or a .npy for one input), run by tfjs (CPU backend) in sets of
                        --batch-size rows (or the model's fixed batch), for --bias-correction
                        and --gptq-rounding, for --equalize through ReLU6 and for
                        --measure-headroom. Either format: images (a folder of .jpg/.png
                        files, or one) as the rows of the model's one image input
                        ([n,h,w,c] or [n,c,h,w], 1 or 3 channels), resized to its size
  --image-range <lo,hi> the values of pixels 0 and 255 (default 0,1; --image-range 0,255,
                        or with "=" when it starts with "-": --image-range=-1,1)
  --image-mean <m>      then subtract per channel (one value or r,g,b; default 0)
  --image-std <s>       then divide per channel (one value or r,g,b; default 1)
  --image-size <HxW>    the size for an input that leaves its height and width open
  --bias-correction     TensorFlow.js models, uint8: take each layer's expected output
                        shift (W_q - W) E[x] out of its bias, E[x] the mean of its input on
                        --calibration (needed); a layer without a bias gets one (graph: fused
                        BiasAdd; layers: use_bias, or the next BatchNormalization's mean)
  --gptq-rounding       TensorFlow.js models, uint8: choose each conv/depthwise/MatMul/Dense
                        kernel's codes on its grid by GPTQ against its inputs on --calibration
                        (needed), each column's rounding error compensated on the rest, instead
                        of rounding every weight to nearest; same grid, same size
  --channel-scales      TensorFlow.js models: a kernel quantized per channel with one zero
                        point (granularity per_channel, symmetric) is stored as codes on one
                        grid, its scales applied after the layer (a Mul node in a graph
                        model; in a layers model a 1x1 DepthwiseConv2D after a 2-D conv, a
                        BatchNormalization after a Dense or Conv1D): one byte per weight
                        instead of fake-quantized float16/float32; the scales are
                        paid from --headroom: those that do not fit go per tensor, the kernels
                        that gain least from them per byte first
  --batch-size <n>      rows per calibration batch (default 8)
  --input <NAME=SPEC>   one model input (repeatable): a shape (x=1,576: symbolic dims are
                        bound by name across inputs), a fill (state=zeros, ones, random), a
                        constant (sr=16000:int64), a data file (x=x.npy, x=in.safetensors#t);
                        an integer scalar is never random unless asked (sr=random), for calibration: the inputs the --calibration
                        file lacks (a .npy file feeds the one input without --input)
  --state <OUT=IN>      stateful models (repeatable): calibration batches are consecutive
                        steps, each fed the output OUT of the step before as input IN
                        (e.g. --state stateN=state); with --eval and --steps too
  -r, --report <path>   also write a report (.html or .json; repeatable); reports are written
                        before the model, so a failed report leaves no model behind
  --eval                evaluate the original and the result (PP-OCR models, see eval;
                        any other ONNX model is compared with the original as eval
                        --reference does), and time both (--runs, --backend, --threads as
                        for eval)
  --allow-unchanged     write the copy even when the list selects no target (else exit 3)
  --threads <n>         worker threads for a safetensors model's tensors (default: all cores,
                        one under 64 MiB; the output is the same for any n)
${COMMON}`,
  variants: `Usage: nncompress variants <model.onnx> -o <dir> [options]

Writes the model variants transformers.js loads, named as its scripts/quantize.py names them:
<stem>_fp16.onnx (float16 computation, float32 inputs and outputs), <stem>_quantized.onnx (q8:
dynamic quantization, uint8 weights when the model has a Conv, else int8), <stem>_int8.onnx,
<stem>_uint8.onnx, <stem>_q4.onnx (MatMul weights as MatMulNBits, 4 bits, blocks of 32,
symmetric), <stem>_q4f16.onnx (q4, then float16) and <stem>_bnb4.onnx (MatMulBnb4, NF4, blocks
of 64). Prints one line per variant on stderr, then a table of size, time and fidelity (the
lowest cosine and largest |diff| of the outputs against the original's on the model's inputs,
as eval --reference computes them). Exit 1 when a variant could not be made (the others are
written).

Options:
  -o, --output <dir>    the folder for the variant files (required; created if missing)
  --modes <list>        comma-separated subset of fp16,q8,int8,uint8,q4,q4f16,bnb4 (default all)
  -c, --config <c>      a config list narrowing the modules each variant touches (default: all)
  --block-ops <ops>     the operators float16 leaves in float32 (see quantize --block-ops)
  --per-tensor          q8/int8/uint8 with one weight scale per tensor, quantize.py's default
                        (default here: per output channel, which keeps far more accuracy)
  --input <NAME=SPEC>   the inputs of the fidelity comparison (see eval; default random values)
  --no-eval             skip the comparison with the original
${COMMON}`,
  eval: `Usage: nncompress eval <model.onnx|model.json> [options]

Runs a PP-OCR recognizer (exact lines) or text-orientation classifier (accuracy) on the 40
labelled lines in tests/fixtures/ocr-lines with onnxruntime-node. Any other ONNX model is
compared with --reference (usually the original) on the same inputs (--input, else
deterministic random values fitting each input's type): largest and mean absolute difference,
relative error ||a - b|| / ||b|| over each output, cosine similarity, top-1 agreement along a
class axis. A TensorFlow.js
model.json is compared with its --reference the same way, both run by tfjs (CPU backend), with
the cosine similarity of each output. A tfjs weights manifest alone (face-api.js's
<name>-weights_manifest.json) has no topology: give --runner, a module that builds and runs
the network from the weights in your code; both weight sets go through it.

Options:
  -t, --task <task>     recognizer, classifier or compare (default: from the model's output)
  --reference <model>   the model to compare with (PP-OCR: lines where both predict the same)
  --shape <dims>        the first input's shape for compare, e.g. 1,3,224,224 (default: the
                        model's dims, symbolic ones 8 for the batch and 16 elsewhere)
  --tfjs-setup <m.js>   model.json with custom layers or ops: an ES module whose default
                        export (or setup) takes tf and registers them
                        (tf.serialization.registerClass, tf.registerOp)
  --runner <m.js>       a weights manifest alone: an ES module whose default export (or run)
                        takes the weights (a Map of name -> { dtype, shape, values }, values
                        decoded as tfjs decodes them), runs the network on inputs of its own,
                        the same each call, and returns the outputs (an array of numbers, a
                        { dims, data } object or a tfjs tensor; a list of them, or an object
                        of them by name)
  --input <NAME=SPEC>   one model input (repeatable): a shape (x=1,576: symbolic dims are
                        bound by name across inputs), a fill (state=zeros, ones, random), a
                        constant (sr=16000:int64), a data file (x=x.npy, x=in.safetensors#t);
                        an integer scalar is never random unless asked (sr=random)
  --images <path>       compare on photos instead of random values: a folder of .jpg/.png
                        files or one, as the model's one image input (the one no --input
                        gives), resized to its size and scaled by --image-range <lo,hi>
                        (default 0,1; --image-range=-1,1), --image-mean, --image-std and
                        --image-size HxW as for quantize --calibration
  --class-axis <a>      top-1 agreement along this axis of every output that has it, or
                        OUT=AXIS per output (repeatable); without it only [N, C] outputs
                        get top-1 agreement (along C)
  --iou                 also the IoU of masks: argmax label maps along the class axis, else
                        value > --mask-threshold (default 0.5)
  --steps <n>           runs per model; with --state OUT=IN (repeatable) each run feeds its
                        output OUT back as input IN (a data file's dim 0 is split in n)
  --runs <n>            time each model: the median of n runs after 2 warm-up runs, on one
                        labelled line (PP-OCR) or the compared inputs (default 10; 0: no
                        timing); shown beside size and fidelity
  --backend <b>         node (default: onnxruntime-node), web (onnxruntime-web's WebAssembly
                        CPU backend) or both
  --threads <n>         intra-op threads per session (default 1, for reproducible figures)
${COMMON}`,
  report: `Usage: nncompress report <report.json> [options]

Prints a saved report (from --report x.json or the demo) as a table.

Options:
  -o, --output <path>   write it as a self-contained HTML page (or JSON)
${COMMON}`,
};
