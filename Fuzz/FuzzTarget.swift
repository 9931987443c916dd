// libFuzzer entry point: built only with -DPAXOS_LIBFUZZER (scripts/fuzz.sh):
//   swift build -c release --product paxos-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
//       -Xswiftc -DPAXOS_LIBFUZZER -Xlinker --allow-multiple-definition
// SwiftPM links every executable with `--defsym main=<module>_main`, and -sanitize=fuzzer links libFuzzer's
// own `main` too: the linker is told to keep one, and both run the same driver on the same callback.
// Without the flag, Tool.swift's `main` is the product's.

#if PAXOS_LIBFUZZER
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

nonisolated(unsafe) var fuzzStats = FuzzStats()

@_cdecl("LLVMFuzzerTestOneInput")
public func paxosFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    FuzzDriver.one(bytes, stats: &fuzzStats)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct LibFuzzerMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, paxosFuzzTestOneInput))
    }
}
#endif
