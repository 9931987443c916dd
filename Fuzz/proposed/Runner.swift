// Entry point to run Fuzz/proposed/*Tests.swift without SwiftPM (see Fuzz/README.md).
import Testing
#if canImport(Glibc)
import Glibc
#endif
@main struct Runner {
    static func main() async {
        let rc = await Testing.__swiftPMEntryPoint() as CInt
        exit(rc)
    }
}
