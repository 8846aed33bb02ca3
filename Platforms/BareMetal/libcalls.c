// The compiler's helper functions a 32-bit bare target expects from its C runtime (compiler-rt),
// which the toolchain does not ship for these targets: 64-bit shifts and division, unsigned 64-bit
// integer to double, and ARM's EABI memory functions. Square roots and rounding run on the FPU's
// own instructions (__builtin_sqrt with -fno-math-errno). All written with 32-bit operations or
// constant shifts, which compile to instructions, never back into these calls.

typedef unsigned long long u64;
typedef unsigned int u32;

static u64 shift_left(u64 value, int shift) {
    u32 low = (u32)value, high = (u32)(value >> 32);
    if (shift == 0) return value;
    if (shift >= 64) return 0;
    if (shift >= 32) return (u64)(low << (shift - 32)) << 32;
    return ((u64)((high << shift) | (low >> (32 - shift))) << 32) | (u32)(low << shift);
}

static u64 shift_right(u64 value, int shift) {
    u32 low = (u32)value, high = (u32)(value >> 32);
    if (shift == 0) return value;
    if (shift >= 64) return 0;
    if (shift >= 32) return high >> (shift - 32);
    return ((u64)(high >> shift) << 32) | ((low >> shift) | (high << (32 - shift)));
}

/// Restoring division, one quotient bit per step.
static u64 divide(u64 numerator, u64 denominator, u64 *remainder) {
    u64 quotient = 0, rest = 0;
    for (int i = 0; i < 64; i++) {
        rest = (rest << 1) | (numerator >> 63);
        numerator <<= 1;
        quotient <<= 1;
        if (rest >= denominator) {
            rest -= denominator;
            quotient |= 1;
        }
    }
    if (remainder) *remainder = rest;
    return quotient;
}

/// hi·2³² + lo: the product is exact in double, so the one addition rounds correctly.
static double unsigned_to_double(u64 value) {
    return (double)(u32)(value >> 32) * 4294967296.0 + (double)(u32)value;
}

double sqrt(double x) { return __builtin_sqrt(x); }
float sqrtf(float x) { return __builtin_sqrtf(x); }

/// Rounds toward zero by clearing the fraction bits (no conversion to a 64-bit integer, which on
/// a 32-bit target would itself be a call).
double trunc(double x) {
    union { double d; u64 i; } u = {x};
    int exponent = (int)((u32)(u.i >> 52) & 0x7ff) - 1023;
    if (exponent >= 52) return x;
    if (exponent < 0) { u.i &= 1ull << 63; return u.d; }
    u.i &= ~shift_right(0x000fffffffffffffull, exponent);
    return u.d;
}
double ceil(double x) { double t = trunc(x); return t < x ? t + 1.0 : t; }
double floor(double x) { double t = trunc(x); return t > x ? t - 1.0 : t; }

#if defined(__riscv)
u64 __ashldi3(u64 value, int shift) { return shift_left(value, shift); }
u64 __lshrdi3(u64 value, int shift) { return shift_right(value, shift); }
u64 __udivdi3(u64 n, u64 d) { return divide(n, d, 0); }
u64 __umoddi3(u64 n, u64 d) { u64 r; divide(n, d, &r); return r; }
double __floatundidf(u64 value) { return unsigned_to_double(value); }
#endif

#if defined(__arm__)
u64 __aeabi_llsl(u64 value, int shift) { return shift_left(value, shift); }
u64 __aeabi_llsr(u64 value, int shift) { return shift_right(value, shift); }
double __aeabi_ul2d(u64 value) { return unsigned_to_double(value); }

u64 liftcam_udivmod(u64 n, u64 d, u64 *remainder) { return divide(n, d, remainder); }
// The EABI returns the quotient in r0:r1 and the remainder in r2:r3, which C cannot say.
__attribute__((naked)) void __aeabi_uldivmod(void) {
    __asm__ volatile("push {r4, lr}\n"
                     "sub sp, sp, #16\n"
                     "add r4, sp, #8\n"
                     "str r4, [sp]\n"            // third argument, on the stack: where the remainder goes
                     "bl liftcam_udivmod\n"
                     "ldr r2, [sp, #8]\n"
                     "ldr r3, [sp, #12]\n"
                     "add sp, sp, #16\n"
                     "pop {r4, pc}\n");
}

void *memcpy(void *, const void *, unsigned long);
void *memmove(void *, const void *, unsigned long);
void *memset(void *, int, unsigned long);
void __aeabi_memcpy(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, unsigned long n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, unsigned long n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, unsigned long n) { memmove(d, s, n); }
void __aeabi_memset(void *d, unsigned long n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, unsigned long n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, unsigned long n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, unsigned long n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, unsigned long n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, unsigned long n) { memset(d, 0, n); }
#endif
