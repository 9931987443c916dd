// placeholder until the shells land
@main struct PaxosMain { static func main() {} }
