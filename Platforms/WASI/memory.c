// The WebAssembly heap, which Swift has no words for: where it starts (after the static data, as
// wasm-ld lays it out) and the size and growth of linear memory. Used by Common/Allocator.swift.
extern unsigned char __heap_base;

unsigned long liftcam_heap_base(void) { return (unsigned long)&__heap_base; }
unsigned long liftcam_memory_bytes(void) { return __builtin_wasm_memory_size(0) * 65536ul; }
long liftcam_memory_grow(unsigned long pages) { return __builtin_wasm_memory_grow(0, pages); }
