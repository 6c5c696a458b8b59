import ASIBSlurm
import Testing

@Suite("Array mapping")
struct ArrayMappingTests {
    @Test("one run per task adds the array offset")
    func runIndexWithOffset() throws {
        #expect(try ArrayMapping.runIndex(taskID: 0, offset: 0, runCount: 10) == 0)
        #expect(try ArrayMapping.runIndex(taskID: 3, offset: 0, runCount: 10) == 3)
        #expect(try ArrayMapping.runIndex(taskID: 3, offset: 5, runCount: 10) == 8)
        #expect(try ArrayMapping.runIndex(taskID: 4, offset: 5, runCount: 10) == 9)
    }

    @Test("task beyond the plan has nothing to do")
    func taskBeyondPlan() throws {
        #expect(try ArrayMapping.runIndex(taskID: 10, offset: 0, runCount: 10) == nil)
        #expect(try ArrayMapping.runIndex(taskID: 5, offset: 5, runCount: 10) == nil)
        let assignment = try ArrayMapping.assignment(taskID: 2, offset: 9, shardCount: 10)
        #expect(assignment == .nothingToDo(taskID: 2, offset: 9, count: 10))
    }

    @Test("huge offset does not overflow into a shard")
    func overflowingOffset() throws {
        let assignment = try ArrayMapping.assignment(taskID: 5, offset: Int.max, shardCount: 3)
        #expect(assignment == .nothingToDo(taskID: 5, offset: Int.max, count: 3))
    }

    @Test("negative offset and zero shards are errors")
    func invalidArguments() {
        #expect(throws: SlurmError.self) {
            try ArrayMapping.assignment(taskID: 0, offset: -1, shardCount: 3)
        }
        #expect(throws: SlurmError.self) {
            try ArrayMapping.assignment(taskID: 0, offset: 0, shardCount: 0)
        }
        #expect(throws: SlurmError.self) {
            try ArrayMapping.assignment(taskID: -1, offset: 0, shardCount: 3)
        }
    }

    @Test("run i goes to shard i mod K")
    func shardOfRun() {
        #expect(ArrayMapping.shard(ofRun: 0, shardCount: 3) == 0)
        #expect(ArrayMapping.shard(ofRun: 4, shardCount: 3) == 1)
        #expect(ArrayMapping.shard(ofRun: 8, shardCount: 3) == 2)
        #expect(ArrayMapping.shard(ofRun: 9, shardCount: 3) == 0)
    }

    @Test("shards list their runs in order")
    func runsInShard() {
        #expect(ArrayMapping.runs(inShard: 1, shardCount: 3, runCount: 8) == [1, 4, 7])
        #expect(ArrayMapping.runs(inShard: 2, shardCount: 3, runCount: 8) == [2, 5])
        #expect(ArrayMapping.runs(inShard: 5, shardCount: 8, runCount: 3) == [])
        #expect(ArrayMapping.runs(inShard: 3, shardCount: 3, runCount: 8) == [])
    }

    @Test("shards cover every run exactly once", arguments: [1, 2, 3, 7, 10, 11])
    func shardsCoverRuns(shardCount: Int) {
        let runCount = 10
        let covered = (0..<shardCount).flatMap {
            ArrayMapping.runs(inShard: $0, shardCount: shardCount, runCount: runCount)
        }
        #expect(covered.sorted() == Array(0..<runCount))
    }

    @Test("shard assignment agrees with shard of run")
    func assignmentMatchesShardOfRun() throws {
        for run in 0..<12 {
            let shard = ArrayMapping.shard(ofRun: run, shardCount: 5)
            let assignment = try ArrayMapping.assignment(taskID: shard, offset: 0, shardCount: 5)
            #expect(assignment == .shard(index: run % 5, count: 5))
        }
    }
}
