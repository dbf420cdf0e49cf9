/* Freestanding stand-in for <stdlib.h> (exo-lsp RVM target). malloc is a bump
 * allocator over the heap region of link.ld; free only releases the last block. */
#ifndef EXO_RVM_STDLIB_H
#define EXO_RVM_STDLIB_H
#include <stddef.h>
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void free(void *ptr);
void abort(void) __attribute__((noreturn));
static inline void exit(int code) { (void)code; abort(); }
static inline int abs(int x) { return x < 0 ? -x : x; }
#endif
