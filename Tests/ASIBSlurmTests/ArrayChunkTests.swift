import ASIBSlurm
import Testing

@Suite("Array splitting")
struct ArrayChunkTests {
    @Test("plan that fits MaxArraySize is one array")
    func singleArray() throws {
        let chunks = try ArrayChunk.split(taskCount: 1001, maxArraySize: 1001, throttle: nil)
        #expect(chunks == [ArrayChunk(offset: 0, count: 1001, throttle: nil)])
        #expect(chunks.first?.arraySpec == "0-1000")
    }

    @Test("larger plan is split into arrays starting at task 0")
    func splitArrays() throws {
        let chunks = try ArrayChunk.split(taskCount: 7, maxArraySize: 3, throttle: 2)
        #expect(chunks.map(\.offset) == [0, 3, 6])
        #expect(chunks.map(\.count) == [3, 3, 1])
        #expect(chunks.map(\.arraySpec) == ["0-2%2", "0-2%2", "0%2"])
    }

    @Test(
        "split arrays cover every run exactly once",
        arguments: [(1, 1), (2, 1), (5, 2), (10, 3), (10, 10), (10, 11), (1002, 1001)]
    )
    func splitCoversRuns(runCount: Int, maxArraySize: Int) throws {
        let chunks = try ArrayChunk.split(
            taskCount: runCount, maxArraySize: maxArraySize, throttle: nil)
        var runs: [Int] = []
        for chunk in chunks {
            let spec = try ArraySpec.parse(chunk.arraySpec, maxArraySize: maxArraySize)
            for taskID in spec.taskIDs {
                if let run = try ArrayMapping.runIndex(
                    taskID: taskID, offset: chunk.offset, runCount: runCount)
                {
                    runs.append(run)
                }
            }
        }
        #expect(runs == Array(0..<runCount))
    }

    @Test("every array carries the throttle")
    func throttleOnEveryArray() throws {
        let chunks = try ArrayChunk.split(taskCount: 5, maxArraySize: 2, throttle: 4)
        #expect(chunks.allSatisfy { $0.arraySpec.hasSuffix("%4") })
    }

    @Test("throttle 0 is an error")
    func zeroThrottle() {
        #expect(throws: SlurmError.invalidThrottle(value: "0")) {
            try ArrayChunk.split(taskCount: 5, maxArraySize: 10, throttle: 0)
        }
    }

    @Test("empty plan is an error")
    func emptyPlan() {
        #expect(throws: SlurmError.emptyPlan) {
            try ArrayChunk.split(taskCount: 0, maxArraySize: 10, throttle: nil)
        }
    }

    @Test("MaxArraySize 0 is an error")
    func zeroMaxArraySize() {
        #expect(throws: SlurmError.self) {
            try ArrayChunk.split(taskCount: 3, maxArraySize: 0, throttle: nil)
        }
    }
}
