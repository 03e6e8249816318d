/** The production-mode rig lives in bench/ (compiled), shared by the tests and the benchmarks. */
export * from '../../bench/production-rig.js'
