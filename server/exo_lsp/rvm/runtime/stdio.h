/* Freestanding stand-in for <stdio.h> (exo-lsp RVM target): Exo's C includes it but
 * generated kernels do not print. */
#ifndef EXO_RVM_STDIO_H
#define EXO_RVM_STDIO_H
#include <stddef.h>
static inline int printf(const char *fmt, ...) { (void)fmt; return 0; }
#endif
