// The allocator of the bare builds (WebAssembly, microcontrollers): what `malloc`,
// `posix_memalign` and `free` mean there. Embedded Swift allocates through these C names, and a bare
// target has no C library. (runtime.c gives the C names to the `liftcam_…` functions below: Swift
// reserves the names.) The platform supplies the heap: where it starts, how big memory is now, and
// how to grow it (WebAssembly's memory.grow; a board's fixed RAM cannot grow).
//
// Blocks come in power-of-two size classes (32 bytes to 2 GiB), each block a 16-byte header and
// its payload; freed blocks go onto their class's list and are reused by the next request of that
// class. New blocks are cut from the end of the heap, which grows the linear memory as it must.
// At most half of a block is wasted, and nothing is returned to the host: the programs are
// commands that run once and exit.
//
// Header of a block whose payload starts at p: the 4 bytes at p−8 hold a tag, the 4 at p−4 the
// class (for a plain block) or the distance back to the plain block it was carved from (for an
// over-aligned one: `posix_memalign` with an alignment above 16).

@_extern(c, "liftcam_heap_base") func heapBase() -> UInt
@_extern(c, "liftcam_memory_bytes") func memoryBytes() -> UInt
@_extern(c, "liftcam_memory_grow") func memoryGrow(_ pages: UInt) -> Int

private let plainTag: UInt32 = 0xA110_C8ED
private let alignedTag: UInt32 = 0xA116_0ED0
private let headerBytes: UInt = 16
private let classCount = 32

/// Where the free lists' heads start (at the heap base), and where new blocks are cut from.
nonisolated(unsafe) private var freeListHeads: UInt = 0
nonisolated(unsafe) private var heapTop: UInt = 0

private func load32(_ address: UInt) -> UInt32 {
    UnsafeRawPointer(bitPattern: address)!.load(as: UInt32.self)
}

private func store32(_ value: UInt32, _ address: UInt) {
    UnsafeMutableRawPointer(bitPattern: address)!.storeBytes(of: value, as: UInt32.self)
}

/// The smallest class whose blocks hold `bytes` plus the header: 2^(class + 5) bytes in all.
private func sizeClass(_ bytes: UInt) -> Int? {
    var total: UInt = 32, index = 0
    while total < bytes + headerBytes {
        total <<= 1
        index += 1
        if index >= classCount { return nil }
    }
    return index
}

/// A payload of at least `bytes` bytes, 16-aligned, or nil when memory cannot grow.
private func allocatePlain(_ bytes: UInt) -> UInt? {
    if freeListHeads == 0 {
        freeListHeads = (heapBase() + 15) & ~15
        for index in 0..<classCount { store32(0, freeListHeads + UInt(index) * 4) }
        heapTop = freeListHeads + UInt(classCount) * 4
        heapTop = (heapTop + 15) & ~15
    }
    guard let index = sizeClass(bytes) else { return nil }
    let head = freeListHeads + UInt(index) * 4
    let reused = UInt(load32(head))
    if reused != 0 {
        store32(load32(reused), head)   // a free payload's first word links to the next
        store32(plainTag, reused - 8)
        return reused
    }
    let blockBytes: UInt = 32 << UInt(index)
    let block = heapTop
    guard block <= UInt(UInt32.max) - blockBytes else { return nil }
    let end = block + blockBytes
    if end > memoryBytes() {
        let missingPages = (end - memoryBytes() + 65535) / 65536
        guard memoryGrow(missingPages) >= 0 else { return nil }
    }
    heapTop = end
    let payload = block + headerBytes
    store32(plainTag, payload - 8)
    store32(UInt32(index), payload - 4)
    return payload
}

private func freePlain(_ payload: UInt) {
    let index = UInt(load32(payload - 4))
    let head = freeListHeads + index * 4
    store32(0, payload - 8)             // no longer a live block: a second free is ignored
    store32(load32(head), payload)
    store32(UInt32(payload), head)
}

@_cdecl("liftcam_malloc")
func malloc(_ size: Int) -> UnsafeMutableRawPointer? {
    allocatePlain(UInt(max(size, 1))).flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
}

@_cdecl("liftcam_posix_memalign")
func posixMemalign(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int) -> Int32 {
    if alignment <= 16 {
        guard let payload = malloc(size) else { return 12 }  // ENOMEM
        result.pointee = payload
        return 0
    }
    let align = UInt(alignment)
    guard let plain = allocatePlain(UInt(size) + align + 8) else { return 12 }
    let aligned = (plain + 8 + align - 1) & ~(align - 1)
    store32(alignedTag, aligned - 8)
    store32(UInt32(aligned - plain), aligned - 4)
    result.pointee = UnsafeMutableRawPointer(bitPattern: aligned)
    return 0
}

@_cdecl("liftcam_aligned_alloc")
func alignedAlloc(_ alignment: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    var result: UnsafeMutableRawPointer?
    return posixMemalign(&result, alignment, size) == 0 ? result : nil
}

@_cdecl("liftcam_free")
func free(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    let payload = UInt(bitPattern: pointer)
    switch load32(payload - 8) {
    case alignedTag: freePlain(payload - UInt(load32(payload - 4)))
    case plainTag: freePlain(payload)
    default: break
    }
}

@_cdecl("liftcam_calloc")
func calloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow, let pointer = malloc(bytes) else { return nil }
    pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    return pointer
}

@_cdecl("liftcam_realloc")
func realloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    guard let pointer else { return malloc(size) }
    let payload = UInt(bitPattern: pointer)
    guard load32(payload - 8) == plainTag else { return nil }
    let capacity = (UInt(32) << UInt(load32(payload - 4))) - headerBytes
    if UInt(size) <= capacity { return pointer }
    guard let moved = malloc(size) else { return nil }
    moved.copyMemory(from: pointer, byteCount: Int(capacity))
    free(pointer)
    return moved
}

/// The most heap the program has held at once, in bytes: blocks are never returned to the system,
/// so the end of the heap is its high-water mark.
func heapHighWater() -> UInt {
    freeListHeads == 0 ? 0 : heapTop - freeListHeads
}
