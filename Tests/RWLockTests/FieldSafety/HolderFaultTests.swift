import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R2 when `rwlock` itself is the process that fails: killed (SIGKILL,
    /// the OOM killer, systemd's KillMode=process) or stopped (SIGSTOP from
    /// a job controller or a debugger) while COMMAND is untouched. The
    /// keeper, a process of rwlock's making outside rwlock, stops COMMAND's
    /// whole group at the last deadline rwlock confirmed, or at once when
    /// rwlock is gone, so nothing of the job runs once another writer can
    /// be granted.
    @Suite(.enabled(if: RwlockCommandTests.live), .timeLimit(.minutes(3)))
    struct HolderFaultTests {
        typealias Run = RwlockCommandTests.Run

        enum Fault: String, CustomTestStringConvertible {
            case kill = "SIGKILL", stop = "SIGSTOP"
            var testDescription: String { rawValue }
            var signal: Int32 { self == .kill ? SIGKILL : SIGSTOP }
        }

        /// A holder running ``slowToStopJob`` whose job has started working;
        /// the job's process group (led by the keeper) and its files.
        struct Holder {
            let run: Run
            let files: URL
            let group: pid_t
            let worker: pid_t
            var work: String { files.appendingPathComponent("work").path }
            var terminated: String { files.appendingPathComponent("term").path }

            init(_ name: String, lease: String, extra: [String] = [], job: [String] = slowToStopJob) async throws {
                files = try ProcessProbe.directory()
                let (work, workerPid, terminated) = (
                    files.appendingPathComponent("work").path, files.appendingPathComponent("worker.pid").path,
                    files.appendingPathComponent("term").path)
                run = try Run(["write", name, "--lease", lease] + extra + ["--"] + job + [work, workerPid, terminated])
                #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: work).isEmpty }, "the job never worked")
                // The worker starts before its shell writes its pid: wait for both.
                #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: workerPid) != nil })
                worker = try #require(ProcessProbe.pid(in: workerPid))
                group = try #require(ProcessProbe.processGroup(of: worker))
            }
        }

        /// Starts a second writer that records when it was granted, and
        /// waits for it.
        func secondWriter(_ name: String, in files: URL) async throws -> (status: Int32, grantedAt: Int64?, stderr: String) {
            let granted = files.appendingPathComponent("second").path
            let result = try await Run(["write", name, "--lease", "1s", "--timeout", "30s", "--", "sh", "-c",
                                        "date +%s%N > \"$1\"", "second", granted]).finish()
            return (result.status, ProcessProbe.timestamps(in: granted).first, result.stderr)
        }

        @Test(arguments: [Fault.kill, .stop], [1, 3])
        func theJobOfAFailedRwlockIsDeadBeforeAnotherWriterGetsIn(fault: Fault, leaseSeconds: Int) async throws {
            let name = "holder-\(fault.rawValue.lowercased())-\(UUID().uuidString.prefix(8))"
            let holder = try await Holder(name, lease: "\(leaseSeconds)s")
            defer { try? FileManager.default.removeItem(at: holder.files) }
            #expect(ProcessProbe.arguments(of: holder.group).contains("__keeper"), "the job's group is not led by the keeper")

            kill(holder.run.process.processIdentifier, fault.signal)
            let struck = ContinuousClock.now
            let second = try await secondWriter(name, in: holder.files)
            let grantedAfter = ContinuousClock.now - struck
            // Nothing of the job is left: not the worker, not COMMAND's shell,
            // not the keeper.
            let left = ProcessProbe.liveMembers(ofGroup: holder.group)
            if fault == .stop { kill(holder.run.process.processIdentifier, SIGCONT) }
            let holderResult = try await holder.run.finish()

            #expect(second.status == 0, "the second writer: \(second.stderr)")
            #expect(left.isEmpty, "processes of the first job's group still run: \(left)")
            let lastWork = try #require(ProcessProbe.timestamps(in: holder.work).max())
            let grantedAt = try #require(second.grantedAt)
            let termAt = ProcessProbe.timestamps(in: holder.terminated).first
            print("""
                rwlock \(fault.rawValue), lease \(leaseSeconds)s: second writer done \(grantedAfter) after the fault; \
                first job's last work \((grantedAt - lastWork) / 1_000_000) ms before its grant\
                \(termAt.map { "; SIGTERM \((grantedAt - $0) / 1_000_000) ms before it" } ?? "")
                """)
            #expect(lastWork < grantedAt, "the first job worked after the second writer was granted")
            #expect(termAt != nil, "the job never got SIGTERM first")
            switch fault {
            case .kill:
                #expect(holderResult.stderr.contains("keeper of lock \(name)"), "\(holderResult.stderr)")
            case .stop:
                // Resumed, rwlock finds the lease lost and says so.
                #expect(holderResult.status == 70, "\(holderResult.stderr)")
                #expect(holderResult.stderr.contains("lease was lost"), "\(holderResult.stderr)")
            }
        }

        /// The keeper killed on its own leaves COMMAND unprotected: rwlock
        /// stops the group at once, releases the lease and exits 70.
        @Test func aKilledKeeperStopsTheJobAndRwlockExits70() async throws {
            let name = "keeper-killed-\(UUID().uuidString.prefix(8))"
            let holder = try await Holder(name, lease: "3s")
            defer { try? FileManager.default.removeItem(at: holder.files) }
            kill(holder.group, SIGKILL)
            let result = try await holder.run.finish()
            #expect(result.status == 70, "\(result.stderr)")
            #expect(result.stderr.contains("keeper process"), "\(result.stderr)")
            #expect(ProcessProbe.liveMembers(ofGroup: holder.group).isEmpty)
            #expect(!ProcessProbe.isRunning(holder.worker))
            // Released, not left to expire: the next writer gets in at once.
            let next = try await Run(["write", name, "-n", "--", "true"]).finish()
            #expect(next.status == 0, "the lease was not released: \(next.stderr)")
        }

        /// The keeper ignores what rwlock ignores and more: terminal and job
        /// signals, and the ones COMMAND might send its group. Stopped on
        /// its own, rwlock resumes it. It holds no socket, so it can send
        /// nothing to Redis.
        @Test func theKeeperShrugsOffSignalsAndHoldsNoConnection() async throws {
            let name = "keeper-signals-\(UUID().uuidString.prefix(8))"
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (started, finish) = (files.appendingPathComponent("started").path, files.appendingPathComponent("finish").path)
            let run = try Run(["write", name, "--lease", "1s", "--", "sh", "-c",
                               "echo $$ > \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.02; done", "job", started, finish])
            #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: started) != nil })
            let job = try #require(ProcessProbe.pid(in: started))
            let group = try #require(ProcessProbe.processGroup(of: job))
            #expect(ProcessProbe.arguments(of: group).contains("__keeper"))
            // It closes what rwlock's caller let it inherit, and opens none.
            #expect(await ProcessProbe.eventually { !ProcessProbe.openDescriptors(of: group).contains { $0.hasPrefix("socket:") } },
                    "the keeper holds sockets: \(ProcessProbe.openDescriptors(of: group))")

            for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM] {
                kill(group, signal)
            }
            kill(group, SIGSTOP)
            // rwlock resumes a stopped keeper at once. Left stopped, it would
            // show "T" within microseconds and for good; a third of a second
            // later it must not.
            let watchedUntil = ContinuousClock.now + .milliseconds(300)
            var states: [String] = []
            while ContinuousClock.now < watchedUntil {
                states.append(ProcessProbe.state(of: group) ?? "?")
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(states.last != "T", "the stopped keeper was not resumed: \(states.suffix(5))")
            #expect(ProcessProbe.isRunning(group), "a signal ended the keeper")
            FileManager.default.createFile(atPath: finish, contents: nil)
            let result = try await run.finish()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!ProcessProbe.isRunning(group), "the keeper outlived the hold")
        }

        /// COMMAND's own signal games: it traps and sends its group SIGTERM,
        /// SIGUSR1 and SIGHUP, and stops the whole group (keeper included);
        /// rwlock resumes it, and the keeper still stops the job when rwlock
        /// is then killed.
        @Test func aCommandThatSignalsItsOwnGroupStaysProtected() async throws {
            let name = "own-group-\(UUID().uuidString.prefix(8))"
            let job = ["sh", "-c", """
                trap '' TERM USR1 HUP
                kill -TERM 0; kill -USR1 0; kill -HUP 0; kill -STOP 0
                sh -c 'trap "" TERM; while :; do date +%s%N >> "$1"; sleep 0.01; done' worker "$1" &
                echo $! > "$2"
                wait
                """, "job"]
            let holder = try await Holder(name, lease: "1s", job: job)
            defer { try? FileManager.default.removeItem(at: holder.files) }
            #expect(ProcessProbe.isRunning(holder.group), "the keeper did not survive the job's signals")
            kill(holder.run.process.processIdentifier, SIGKILL)
            let second = try await secondWriter(name, in: holder.files)
            _ = try await holder.run.finish()
            #expect(second.status == 0, "\(second.stderr)")
            let lastWork = try #require(ProcessProbe.timestamps(in: holder.work).max())
            #expect(lastWork < (second.grantedAt ?? 0), "the job worked after the second writer was granted")
            #expect(!ProcessProbe.isRunning(holder.worker), "the worker (it ignores SIGTERM) outlived the lease")
        }

        /// A hold that ends normally leaves no process behind, the keeper's
        /// included: its group is gone, zombies and all.
        @Test func aNormalHoldLeavesNothingBehind() async throws {
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let groupFile = files.appendingPathComponent("group").path
            // Field 5 of /proc/PID/stat is the process group.
            let result = try await Run(["write", "normal-\(UUID().uuidString.prefix(8))", "--", "sh", "-c",
                                        "cut -d' ' -f5 /proc/$$/stat > \"$1\"", "job", groupFile]).finish()
            #expect(result.status == 0, "\(result.stderr)")
            let group = try #require(ProcessProbe.pid(in: groupFile))
            #expect(kill(-group, 0) == -1 && errno == ESRCH, "a process of the job's group is left: \(ProcessProbe.liveMembers(ofGroup: group))")
        }
    }
}
