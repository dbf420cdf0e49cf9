/* Minimal runtime for freestanding kernels (exo-lsp RVM target): the memory
 * functions compilers may call implicitly, and a bump allocator for Exo's malloc. */
#include <stddef.h>
#include <stdint.h>

extern char __heap_start[], __heap_end[];
static char *heap_top = __heap_start;
static char *heap_last = 0;

void abort(void) __attribute__((noreturn));

void *malloc(size_t size) {
    char *p = (char *)(((uintptr_t)heap_top + 15u) & ~(uintptr_t)15u);
    if (size > (size_t)(__heap_end - p)) abort();
    heap_last = p;
    heap_top = p + size;
    return p;
}

void *calloc(size_t n, size_t size) {
    volatile char *p = malloc(n * size);
    for (size_t i = 0; i < n * size; i++) p[i] = 0;
    return (void *)p;
}

void free(void *ptr) {
    if (ptr && ptr == heap_last) { heap_top = heap_last; heap_last = 0; }
}

void *memset(void *dst, int c, size_t n) {
    volatile unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) { while (n--) *d++ = *s++; }
    else { d += n; s += n; while (n--) *--d = *--s; }
    return dst;
}
