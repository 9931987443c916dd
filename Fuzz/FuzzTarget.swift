// libFuzzer entry point. Built by scripts/fuzz.sh:
//   swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name PaxosCore \
//          Sources/PaxosCore/*.swift Fuzz/Driver.swift Fuzz/FuzzTarget.swift -o Fuzz/.work/paxos-fuzz

nonisolated(unsafe) var fuzzStats = FuzzStats()

@_cdecl("LLVMFuzzerTestOneInput")
public func paxosFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    FuzzDriver.one(bytes, stats: &fuzzStats)
    return 0
}
