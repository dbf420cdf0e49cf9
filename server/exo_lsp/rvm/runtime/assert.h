/* Freestanding stand-in for <assert.h> (exo-lsp RVM target): a failed assert aborts. */
#ifndef EXO_RVM_ASSERT_H
#define EXO_RVM_ASSERT_H
void abort(void) __attribute__((noreturn));
#define assert(e) ((e) ? (void)0 : abort())
#endif
