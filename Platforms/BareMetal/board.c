// Start-up, console and exit for the bare-metal builds (armv7em Cortex-M, riscv32, aarch64), over
// semihosting, which QEMU and debug probes provide: the program's text goes to the host's terminal
// and its exit status to the host. Memory comes from the linker script: .data copied from flash,
// .bss zeroed, the heap between them and the stack (Common/Allocator.swift), the stack painted so
// that its deepest use can be measured.

extern unsigned char __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern unsigned char __heap_start[], __heap_end[], __stack_bottom[], __stack_top[];
int liftcam_main(void);

// Semihosting: operation in the first register, argument in the second, by each architecture's trap.
static long semihost(long operation, void *argument) {
#if defined(__arm__)
    register long r0 __asm__("r0") = operation;
    register void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
#elif defined(__aarch64__)
    register long x0 __asm__("x0") = operation;
    register void *x1 __asm__("x1") = argument;
    __asm__ volatile("hlt 0xf000" : "+r"(x0) : "r"(x1) : "memory");
    return x0;
#elif defined(__riscv)
    register long a0 __asm__("a0") = operation;
    register void *a1 __asm__("a1") = argument;
    __asm__ volatile(".option push\n.option norvc\nslli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
#endif
}

void liftcam_console_write(const unsigned char *text, unsigned long count) {
    char chunk[129];
    while (count > 0) {
        unsigned long n = count < 128 ? count : 128;
        for (unsigned long i = 0; i < n; i++) chunk[i] = (char)text[i];
        chunk[n] = 0;
        semihost(0x04, chunk);   // SYS_WRITE0
        text += n;
        count -= n;
    }
}

int putchar(int c) {
    unsigned char byte = (unsigned char)c;
    liftcam_console_write(&byte, 1);
    return c;
}

static void exit_with(int status) {
    long block[2] = {0x20026, status};   // ADP_Stopped_ApplicationExit, exit status
    semihost(0x20, block);               // SYS_EXIT_EXTENDED
    for (;;) {}
}

unsigned long liftcam_heap_base(void) { return (unsigned long)__heap_start; }
unsigned long liftcam_memory_bytes(void) { return (unsigned long)__heap_end; }
long liftcam_memory_grow(unsigned long pages) { (void)pages; return -1; }   // RAM is what it is

#define STACK_PAINT 0x5AFEC0DEu
unsigned long liftcam_stack_used(void) {
    unsigned int *word = (unsigned int *)__stack_bottom;
    while ((unsigned char *)word < __stack_top && *word == STACK_PAINT) word++;
    return (unsigned long)(__stack_top - (unsigned char *)word);
}

/// Set Dictionary's hash seed deterministically: a board has no entropy source here.
void arc4random_buf(void *buffer, unsigned long count) {
    unsigned char *bytes = buffer;
    unsigned int state = 0x9E3779B9u;
    for (unsigned long i = 0; i < count; i++) {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5;
        bytes[i] = (unsigned char)state;
    }
}

void board_start(void) {
    for (unsigned char *p = __data_start, *q = __data_load; p < __data_end;) *p++ = *q++;
    for (unsigned char *p = __bss_start; p < __bss_end;) *p++ = 0;
    unsigned char *here = (unsigned char *)__builtin_frame_address(0) - 256;
    for (unsigned int *word = (unsigned int *)__stack_bottom; (unsigned char *)word < here; word++) *word = STACK_PAINT;
    exit_with(liftcam_main());
}

#if defined(__arm__)
// Cortex-M: the vector table (initial stack, reset), and the FPU switched on before any float.
// A fault ends the program with a line naming it: the fault status registers and where it struck.
static void hex(char *out, unsigned int value) {
    for (int i = 0; i < 8; i++) out[i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xF];
}
static void fault(void) {
    unsigned int *frame;
    __asm__ volatile("mrs %0, msp" : "=r"(frame));
    char line[] = "fault: CFSR xxxxxxxx HFSR xxxxxxxx PC xxxxxxxx\n";
    hex(line + 12, *(volatile unsigned int *)0xE000ED28);
    hex(line + 26, *(volatile unsigned int *)0xE000ED2C);
    hex(line + 38, frame[6]);
    semihost(0x04, line);
    exit_with(70);
}
void reset_handler(void) {
    *(volatile unsigned int *)0xE000ED88 |= 0xFu << 20;   // CPACR: CP10 and CP11 full access
    __asm__ volatile("dsb\n isb");
    board_start();
}
__attribute__((section(".vectors"), used)) void (*const vector_table[16])(void) = {
    (void (*)(void))__stack_top, reset_handler, fault, fault, fault, fault, fault,
};
#elif defined(__riscv)
__attribute__((naked, section(".text.start"))) void _start(void) {
    __asm__ volatile("la sp, __stack_top\n"
                     "li t0, 0x2000\n csrs mstatus, t0\n"   // FS = initial: floating point on
                     "call board_start\n");
}
#elif defined(__aarch64__)
__attribute__((naked, section(".text.start"))) void _start(void) {
    __asm__ volatile("ldr x0, =__stack_top\n mov sp, x0\n"
                     "mov x0, #(3 << 20)\n msr cpacr_el1, x0\n isb\n"   // FP and SIMD on at EL1
                     "bl board_start\n");
}
#endif
