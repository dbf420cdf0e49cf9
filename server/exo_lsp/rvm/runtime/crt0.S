/* Start-up code for the simulated X-HEEP-like RV32IMC system (exo-lsp RVM target).
 * No libc: set gp/sp, clear .bss, call main, then spin on _exo_halt, where the
 * simulator stops. The return value of main is left in a0. */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  call main
    .globl _exo_halt
_exo_halt:
    j _exo_halt

    .globl abort
abort:
    li a0, -1
    j _exo_halt
