import Foundation
import Hummingbird
import Paxos

/// The HTTP front end: `PUT /kv/{key}` (the body is the value), `GET /kv/{key}` (`?linearizable=true` for a
/// linearizable read), `DELETE /kv/{key}`, `GET /health`.
public func makeRouter(_ replica: Replica) -> Router<BasicRequestContext> {
    let router = Router()
    router.put("kv/:key") { request, context -> HTTPResponse.Status in
        let key = try context.parameters.require("key")
        let body = try await request.body.collect(upTo: 1 << 20)
        try await answer { try await replica.put(key, String(buffer: body)) }
        return .noContent
    }
    router.get("kv/:key") { request, context -> String in
        let key = try context.parameters.require("key")
        let linearizable = request.uri.queryParameters.get("linearizable") == "true"
        guard let value = try await answer({ try await replica.get(key, linearizable: linearizable) }) else {
            throw HTTPError(.notFound)
        }
        return value
    }
    router.delete("kv/:key") { _, context -> HTTPResponse.Status in
        let key = try context.parameters.require("key")
        try await answer { try await replica.delete(key) }
        return .noContent
    }
    router.get("health") { _, _ -> String in
        "replica \(replica.id) ok, applied through position \(try replica.table.appliedPosition)\n"
    }
    return router
}

/// The library's errors as HTTP statuses: too large 413, not decided in time 503.
private func answer<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as PaxosError {
        switch error {
        case .valueTooLarge: throw HTTPError(.contentTooLarge, message: "\(error)\n")
        default: throw HTTPError(.serviceUnavailable, message: "\(error)\n")
        }
    }
}
