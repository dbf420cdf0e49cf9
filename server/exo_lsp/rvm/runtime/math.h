/* Freestanding stand-in for <math.h> (exo-lsp RVM target): the few helpers Exo's
 * generated code may use, as compiler builtins. */
#ifndef EXO_RVM_MATH_H
#define EXO_RVM_MATH_H
#define fabsf(x) __builtin_fabsf(x)
#define fabs(x) __builtin_fabs(x)
#define fmaxf(a, b) __builtin_fmaxf((a), (b))
#define fminf(a, b) __builtin_fminf((a), (b))
#define sqrtf(x) __builtin_sqrtf(x)
#endif
