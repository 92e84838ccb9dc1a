import { referenceKernels } from "../../src/kernels/reference.ts";
import { runConformanceSuite } from "./conformance_suite.ts";

runConformanceSuite({ name: "reference", create: () => referenceKernels });
