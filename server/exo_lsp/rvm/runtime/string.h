/* Freestanding stand-in for <string.h> (exo-lsp RVM target); see rvm_rt.c. */
#ifndef EXO_RVM_STRING_H
#define EXO_RVM_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif
