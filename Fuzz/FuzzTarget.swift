// libFuzzer entry point: built only with -DPAXOS_LIBFUZZER (scripts/fuzz.sh):
//   swift build -c release --product paxos-fuzz --build-path .build-fuzz \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPAXOS_LIBFUZZER
// libFuzzer brings `main`; without the flag, Tool.swift's is the product's.

#if PAXOS_LIBFUZZER
nonisolated(unsafe) var fuzzStats = FuzzStats()

@_cdecl("LLVMFuzzerTestOneInput")
public func paxosFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    FuzzDriver.one(bytes, stats: &fuzzStats)
    return 0
}
#endif
