import Foundation
import Testing

extension FieldSafety {
    /// S1 and S2 across processes, as python-redis-lock checks its lock:
    /// readers and writers in many `rwlock` processes hammer one lock, each
    /// COMMAND logging when it entered and left, and every pair of visits is
    /// checked. Readers must be seen sharing the lock, or the run would not
    /// have tested exclusion at all.
    @Suite(.enabled(if: RwlockCommandTests.live), .timeLimit(.minutes(3)))
    struct ProcessOverlapTests {
        struct Visit {
            let id: String
            let mode: String
            var enter: Int64 = 0
            var leave: Int64 = 0
        }

        @Test func readersAndWritersInManyProcessesNeverOverlap() async throws {
            let name = "overlap-\(UUID().uuidString.prefix(8))"
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let log = files.appendingPathComponent("log").path
            let binary = try LiveEnvironment.requireRwlock().path
            let (workers, rounds) = (24, 4)
            // Each worker holds the lock `rounds` times in a row; one worker in
            // three writes. COMMAND appends one short line (an atomic O_APPEND
            // write) as it enters and one as it leaves.
            let job = "echo \"$1 $2 enter $(date +%s%N)\" >> \"$3\"; sleep 0.02; echo \"$1 $2 leave $(date +%s%N)\" >> \"$3\""
            let runs = try (0..<workers).map { worker in
                let mode = worker % 3 == 0 ? "write" : "read"
                let loop = "for round in $(seq \(rounds)); do \"$0\" \(mode) \"$1\" --lease 2s --timeout 60s -- sh -c '\(job)' job "
                    + "\(mode) \(worker)-$round \"$2\" || exit $?; done"
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", loop, binary, name, log]
                process.standardInput = FileHandle.nullDevice
                try process.run()
                return process
            }
            for run in runs {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async {
                        run.waitUntilExit()
                        done.resume()
                    }
                }
                #expect(run.terminationStatus == 0, "a worker failed: status \(run.terminationStatus)")
            }

            var visits: [String: Visit] = [:]
            for line in try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 4, let time = Int64(fields[3]) else { Issue.record("a malformed line: \(line)"); continue }
                var visit = visits[String(fields[1])] ?? Visit(id: String(fields[1]), mode: String(fields[0]))
                if fields[2] == "enter" { visit.enter = time } else { visit.leave = time }
                visits[visit.id] = visit
            }
            let all = visits.values.sorted { $0.enter < $1.enter }
            #expect(all.count == workers * rounds, "visits logged: \(all.count)")
            #expect(all.allSatisfy { $0.enter > 0 && $0.leave >= $0.enter }, "a visit without both ends")
            var breaking: [(String, String)] = []
            var readersShared = 0
            for (index, first) in all.enumerated() {
                for second in all[(index + 1)...] where second.enter < first.leave {
                    if first.mode == "write" || second.mode == "write" {
                        breaking.append((first.id, second.id))
                    } else {
                        readersShared += 1
                    }
                }
            }
            print("\(all.count) visits from \(workers) processes: \(readersShared) pairs of readers shared the lock, "
                  + "\(breaking.count) pairs broke exclusion")
            #expect(breaking.isEmpty, "visits that overlapped a writer: \(breaking.prefix(5))")
            #expect(readersShared > 0, "no two readers ever overlapped: the run did not exercise concurrency")
        }
    }
}
