import { describe, expect, it } from 'vitest'
import { validateExtraSpec } from '../../../../../api-cell/compute/flavors/extra-spec-validators.js'
import { InvalidError } from '../../../../../shared/errors.js'

describe('validateExtraSpec (2.86)', () => {
  it.each([
    ['hw:cpu_policy', 'dedicated'],
    ['hw:numa_nodes', '2'],
    ['hw:numa_cpus.0', '0-3,^2'],
    ['hw:mem_page_size', '2MB'],
    ['hw_rng:allowed', 'true'],
    ['quota:cpu_shares', '1024'],
    ['resources:VCPU', '2'],
    ['resources1:CUSTOM_FPGA', '1'],
    ['trait:HW_CPU_X86_AVX2', 'required'],
    ['trait:CUSTOM_GOLD', 'forbidden'],
    ['aggregate_instance_extra_specs:ssd', 'true'],
    ['capabilities:hypervisor_type', 'QEMU'],
    ['unscoped', 'anything'],
    ['mycompany:custom', 'anything'],
  ])('accepts %s=%s', (k, v) => {
    expect(() => validateExtraSpec(k, v)).not.toThrow()
  })

  it.each([
    ['hw:cpu_policy', 'fast', /not one of/],
    ['hw:numa_nodes', 'two', /not an integer/],
    ['hw:numa_nodes', '0', /minimum/],
    ['hw:no_such_key', 'x', /does not appear to be a valid extra spec/],
    ['hw:numa_cpus.0', 'a-b', /does not match/],
    ['trait:HW_CPU_X86_AVX2', 'wanted', /not one of/],
    ['resources:VCPU', 'many', /not an integer/],
    ['hw_rng:allowed', 'maybe', /not a boolean/],
    ['quota:no_such', '1', /does not appear/],
  ])('refuses %s=%s', (k, v, why) => {
    expect(() => validateExtraSpec(k, v)).toThrow(InvalidError)
    expect(() => validateExtraSpec(k, v)).toThrow(why)
  })
})
