// What a bare target (WebAssembly without WASI libc, a microcontroller) lacks and Swift cannot say
// or may not name: the C names of the allocator (Allocator.swift), the mem* functions the compiler
// calls, fmaf, and 128-bit multiplication. Everything else of the platform layers is Swift.

// The allocator is Swift (Memory.swift); these are its C names.
void *liftcam_malloc(unsigned long size);
void liftcam_free(void *pointer);
int liftcam_posix_memalign(void **result, unsigned long alignment, unsigned long size);
void *liftcam_aligned_alloc(unsigned long alignment, unsigned long size);
void *liftcam_calloc(unsigned long count, unsigned long size);
void *liftcam_realloc(void *pointer, unsigned long size);
void *malloc(unsigned long size) { return liftcam_malloc(size); }
void free(void *pointer) { liftcam_free(pointer); }
int posix_memalign(void **result, unsigned long alignment, unsigned long size) {
    return liftcam_posix_memalign(result, alignment, size);
}
void *aligned_alloc(unsigned long alignment, unsigned long size) { return liftcam_aligned_alloc(alignment, size); }
void *calloc(unsigned long count, unsigned long size) { return liftcam_calloc(count, size); }
void *realloc(void *pointer, unsigned long size) { return liftcam_realloc(pointer, size); }

// Byte loops: compiled with -fno-builtin, so clang does not turn them back into calls of themselves.
void *memcpy(void *restrict destination, const void *restrict source, unsigned long count) {
    unsigned char *d = destination;
    const unsigned char *s = source;
    // Words only when both sides are word-aligned: a Cortex-M7 faults on unaligned double loads.
    if ((((unsigned long)d | (unsigned long)s) & 3) == 0) {
        while (count >= 4) { *(unsigned int *)d = *(const unsigned int *)s; d += 4; s += 4; count -= 4; }
    }
    while (count--) *d++ = *s++;
    return destination;
}

void *memmove(void *destination, const void *source, unsigned long count) {
    unsigned char *d = destination;
    const unsigned char *s = source;
    if (d == s || count == 0) return destination;
    if (d < s || d >= s + count) return memcpy(destination, source, count);
    while (count--) d[count] = s[count];
    return destination;
}

void *memset(void *destination, int value, unsigned long count) {
    unsigned char *d = destination;
    while (count--) *d++ = (unsigned char)value;
    return destination;
}

int memcmp(const void *left, const void *right, unsigned long count) {
    const unsigned char *a = left, *b = right;
    for (unsigned long i = 0; i < count; i++) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

// Fused multiply-add for the builds whose kernels still ask for one: the product of two floats is
// exact in double, so this rounds once more than a true fma only when the sum is a tie.
float fmaf(float a, float b, float c) { return (float)((double)a * (double)b + (double)c); }

// Rounding half away from zero (Swift's default `rounded()`), which has no instruction on wasm or
// RISC-V.
double round(double x) {
    double t = __builtin_trunc(x);
    if (__builtin_fabs(x - t) >= 0.5) t += __builtin_copysign(1.0, x);
    return t;
}
float roundf(float x) {
    float t = __builtin_truncf(x);
    if (__builtin_fabsf(x - t) >= 0.5f) t += __builtin_copysignf(1.0f, x);
    return t;
}

unsigned long strlen(const char *text) {
    unsigned long n = 0;
    while (text[n]) n++;
    return n;
}

// a × b modulo 2^128 from 64-bit halves (what clang calls for __int128 products on wasm32).
typedef unsigned long long u64;
typedef struct { u64 low, high; } u128;
static u64 mulhi64(u64 a, u64 b) {
    u64 a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    u64 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    u64 middle = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
}
void __multi3(u128 *result, u64 aLow, u64 aHigh, u64 bLow, u64 bHigh) {
    result->low = aLow * bLow;
    result->high = mulhi64(aLow, bLow) + aLow * bHigh + aHigh * bLow;
}
