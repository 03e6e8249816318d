/** The OpenStack client lives in bench/ (compiled), shared by the tests and the benchmarks. */
export * from '../../bench/os-client.js'
