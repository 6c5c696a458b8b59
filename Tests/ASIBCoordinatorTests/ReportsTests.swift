import ASIBCoordinator
import Foundation
import Testing

/// Reads an RFC 4180 file into rows of fields, independently of the writer under test.
private func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var characters = Array(text)[...]
    while let character = characters.popFirst() {
        if inQuotes {
            if character == "\"" {
                if characters.first == "\"" {
                    field.append(characters.removeFirst())
                } else {
                    inQuotes = false
                }
            } else {
                field.append(character)
            }
        } else if character == "\"" {
            inQuotes = true
        } else if character == "," {
            row.append(field)
            field = ""
        } else if character == "\n" {
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.append(character)
        }
    }
    return rows
}

private func readCSV(_ folder: URL, _ name: String) throws -> [[String]] {
    parseCSV(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
}

/// Returns the value of `column` in `row`, looked up by header name.
private func cell(_ table: [[String]], row: Int, column: String) -> String? {
    guard let position = table.first?.firstIndex(of: column), row < table.count else {
        return nil
    }
    return table[row][position]
}

/// Marks `run` running, records `epochs` student epochs of `acc` and `loss`, and marks it done.
private func finishRun(
    _ store: SweepStore, _ run: RunRecord, epochs: Int, finalAccuracy: Double,
    bestAccuracy: Double
) throws {
    try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
    for epoch in stride(from: 1, through: epochs, by: 1) {
        try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: epoch, phase: "student", epoch: epoch,
            metrics: ["acc": Double(epoch), "loss": 1.0 / Double(epoch)]
        )
    }
    try store.markDone(
        runID: run.runID, attempt: 1, finalAccuracy: finalAccuracy, bestAccuracy: bestAccuracy,
        seconds: 2.5
    )
}

private func sampleStandardDeviation(_ values: [Double]) -> Double {
    let mean = values.reduce(0, +) / Double(values.count)
    let squares = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
    return (squares / Double(values.count - 1)).squareRoot()
}

@Suite("reports")
struct ReportsTests {
    static let fixedSummaryColumns = [
        "index", "run_id", "kind", "method", "rung", "seed", "status", "attempts",
        "config_sha256", "final_student_acc", "best_student_acc", "total_time_sec",
    ]

    // MARK: - summary.csv

    @Test("summary wide columns in numeric epoch order")
    func summaryEpochOrder() throws {
        let fixture = try StoreFixture()
        let student = StoreFixture.record(index: 0)
        let teacher = StoreFixture.record(index: 1, method: "asib", kind: "teacher")
        let store = try fixture.storeWithPlan([student, teacher])
        try finishRun(store, student, epochs: 12, finalAccuracy: 12, bestAccuracy: 12)
        try store.markRunning(runID: teacher.runID, attempt: 1, worker: "w1")
        for epoch in [1, 2] {
            try store.recordEpoch(
                runID: teacher.runID, attempt: 1, seq: epoch, phase: "teacher", epoch: epoch,
                metrics: ["kd": 0.5, "acc": 40]
            )
        }

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "summary.csv")
        var expected = Self.fixedSummaryColumns
        for epoch in 1...12 {
            expected += ["student_ep\(epoch)_acc", "student_ep\(epoch)_loss"]
        }
        for epoch in 1...2 {
            expected += ["teacher_ep\(epoch)_acc", "teacher_ep\(epoch)_kd"]
        }
        #expect(table.first == expected)
    }

    @Test("summary rows all have every column")
    func summaryRowsComplete() throws {
        let fixture = try StoreFixture()
        let long = StoreFixture.record(index: 0)
        let short = StoreFixture.record(index: 1, seed: 2)
        let queued = StoreFixture.record(index: 2, seed: 3)
        let store = try fixture.storeWithPlan([long, short, queued])
        try finishRun(store, long, epochs: 12, finalAccuracy: 12, bestAccuracy: 12)
        try finishRun(store, short, epochs: 3, finalAccuracy: 3, bestAccuracy: 3)

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "summary.csv")
        let width = table.first?.count ?? 0
        #expect(table.count == 4)
        #expect(width == Self.fixedSummaryColumns.count + 24)
        for row in table {
            #expect(row.count == width)
        }
        #expect(cell(table, row: 2, column: "student_ep3_acc") == "3.0")
        #expect(cell(table, row: 2, column: "student_ep4_acc") == "")
        #expect(cell(table, row: 2, column: "student_ep10_loss") == "")
        #expect(cell(table, row: 3, column: "student_ep1_acc") == "")
        #expect(cell(table, row: 3, column: "final_student_acc") == "")
    }

    @Test("summary fixed fields per run")
    func summaryFixedFields() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0, method: "dkd", rung: "L2", seed: 4)
        let store = try fixture.storeWithPlan([run])
        try finishRun(store, run, epochs: 1, finalAccuracy: 81.25, bestAccuracy: 82.5)

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "summary.csv")
        let row = Array(try #require(table.dropFirst().first).prefix(12))
        #expect(row == [
            "0", run.runID, "student", "dkd", "L2", "4", "done", "1", run.configSHA256,
            "81.25", "82.5", "2.5",
        ])
    }

    @Test("summary shows the latest attempt's epochs")
    func summaryLatestAttempt() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: ["acc": 10]
        )
        try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: 2, phase: "student", epoch: 2, metrics: ["acc": 20]
        )
        try store.markFailed(runID: run.runID, attempt: 1, reason: "lost")
        try store.markQueued(runID: run.runID)
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")
        try store.recordEpoch(
            runID: run.runID, attempt: 2, seq: 1, phase: "student", epoch: 1, metrics: ["acc": 15]
        )

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "summary.csv")
        #expect(cell(table, row: 1, column: "student_ep1_acc") == "15.0")
        #expect(cell(table, row: 1, column: "student_ep2_acc") == nil)
        #expect(cell(table, row: 1, column: "attempts") == "2")
    }

    @Test("summary fills epochs a resumed attempt skipped")
    func summaryResumedAttempt() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        for epoch in 1...3 {
            try store.recordEpoch(
                runID: run.runID, attempt: 1, seq: epoch, phase: "student", epoch: epoch,
                metrics: ["acc": Double(10 * epoch)]
            )
        }
        try store.markFailed(runID: run.runID, attempt: 1, reason: "lost")
        try store.markQueued(runID: run.runID)
        // Attempt 2 resumed after epoch 2, so it reports epoch 3 again and then epoch 4.
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")
        try store.recordEpoch(
            runID: run.runID, attempt: 2, seq: 1, phase: "student", epoch: 3, metrics: ["acc": 33]
        )
        try store.recordEpoch(
            runID: run.runID, attempt: 2, seq: 2, phase: "student", epoch: 4, metrics: ["acc": 44]
        )

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "summary.csv")
        #expect(cell(table, row: 1, column: "student_ep1_acc") == "10.0")
        #expect(cell(table, row: 1, column: "student_ep2_acc") == "20.0")
        #expect(cell(table, row: 1, column: "student_ep3_acc") == "33.0")
        #expect(cell(table, row: 1, column: "student_ep4_acc") == "44.0")
    }

    @Test("field with comma or quote is quoted")
    func fieldQuoted() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0, method: "kd,avg", rung: "say \"hi\"\nnow")
        let store = try fixture.storeWithPlan([run])

        try Reports.write(store: store, to: fixture.folder)

        let text = try String(
            contentsOf: fixture.folder.appendingPathComponent("summary.csv"), encoding: .utf8
        )
        let table = parseCSV(text)
        #expect(text.contains(",\"kd,avg\","))
        #expect(text.contains(",\"say \"\"hi\"\"\nnow\","))
        #expect(cell(table, row: 1, column: "method") == "kd,avg")
        #expect(cell(table, row: 1, column: "rung") == "say \"hi\"\nnow")
        #expect(table.count == 2)
    }

    // MARK: - epochs.csv

    @Test("epochs rows count global epochs across phases")
    func epochsRows() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0, method: "asib", rung: "L4", seed: 3)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        let messages: [(String, Int, [String: Double])] = [
            ("teacher", 1, ["kd": 0.75]),
            ("teacher", 2, ["kd": 0.5]),
            ("student", 1, ["acc": 41.5, "loss": 2]),
            ("student", 2, ["acc": 52.25, "loss": 1.5]),
        ]
        for (offset, message) in messages.enumerated() {
            try store.recordEpoch(
                runID: run.runID, attempt: 1, seq: offset + 1, phase: message.0,
                epoch: message.1, metrics: message.2
            )
        }
        try store.markFailed(runID: run.runID, attempt: 1, reason: "lost")
        try store.markQueued(runID: run.runID)
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")
        try store.recordEpoch(
            runID: run.runID, attempt: 2, seq: 1, phase: "teacher", epoch: 1, metrics: ["kd": 0.7]
        )

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "epochs.csv")
        #expect(table.first == [
            "run_id", "method", "rung", "seed", "attempt", "phase", "global_epoch",
            "local_epoch", "acc", "kd", "loss",
        ])
        #expect(table.count == 6)
        #expect(table.dropFirst().map { $0[4] } == ["1", "1", "1", "1", "2"])
        #expect(table.dropFirst().map { $0[5] } == [
            "teacher", "teacher", "student", "student", "teacher",
        ])
        #expect(table.dropFirst().map { $0[6] } == ["1", "2", "3", "4", "1"])
        #expect(table.dropFirst().map { $0[7] } == ["1", "2", "1", "2", "1"])
        #expect(table[1] == [
            run.runID, "asib", "L4", "3", "1", "teacher", "1", "1", "", "0.75", "",
        ])
        #expect(table[4] == [
            run.runID, "asib", "L4", "3", "1", "student", "4", "2", "52.25", "", "1.5",
        ])
    }

    // MARK: - table.csv

    @Test("table mean and sample deviation over seeds")
    func tableStatistics() throws {
        let fixture = try StoreFixture()
        let finals = [80.0, 82.0, 84.0]
        let bests = [81.0, 83.5, 88.0]
        let runs = (0..<3).map { StoreFixture.record(index: $0, seed: $0 + 1) }
        let store = try fixture.storeWithPlan(runs)
        for (position, run) in runs.enumerated() {
            try finishRun(
                store, run, epochs: 1, finalAccuracy: finals[position],
                bestAccuracy: bests[position]
            )
        }

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "table.csv")
        #expect(table.first == [
            "method", "rung", "n_seeds", "final_acc_mean", "final_acc_std", "best_acc_mean",
            "best_acc_std",
        ])
        #expect(table.count == 2)
        let row = try #require(table.last)
        #expect(Array(row.prefix(3)) == ["vanilla_kd", "L0", "3"])
        let finalMean = finals.reduce(0, +) / 3
        let bestMean = bests.reduce(0, +) / 3
        #expect(abs((Double(row[3]) ?? .nan) - finalMean) < 1e-4)
        #expect(abs((Double(row[4]) ?? .nan) - sampleStandardDeviation(finals)) < 1e-4)
        #expect(abs((Double(row[5]) ?? .nan) - bestMean) < 1e-4)
        #expect(abs((Double(row[6]) ?? .nan) - sampleStandardDeviation(bests)) < 1e-4)
        #expect(row[3] == "82.0000")
        #expect(row[4] == "2.0000")
    }

    @Test("table with one seed has empty deviation")
    func tableSingleSeed() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0, method: "ce_only", rung: "base")
        let store = try fixture.storeWithPlan([run])
        try finishRun(store, run, epochs: 1, finalAccuracy: 75.5, bestAccuracy: 76)

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "table.csv")
        #expect(table.count == 2)
        #expect(table.last == ["ce_only", "base", "1", "75.5000", "", "76.0000", ""])
    }

    @Test("table counts only done student runs")
    func tableFiltersRuns() throws {
        let fixture = try StoreFixture()
        let teacher = StoreFixture.record(index: 0, method: "teacher", kind: "teacher")
        let done = StoreFixture.record(index: 1, method: "kd", seed: 1)
        let failed = StoreFixture.record(index: 2, method: "kd", seed: 2)
        let other = StoreFixture.record(index: 3, method: "kd", rung: "L1", seed: 1)
        let store = try fixture.storeWithPlan([teacher, done, failed, other])
        try finishRun(store, teacher, epochs: 0, finalAccuracy: 90, bestAccuracy: 90)
        try finishRun(store, done, epochs: 0, finalAccuracy: 70, bestAccuracy: 71)
        try store.markRunning(runID: failed.runID, attempt: 1, worker: "w1")
        try store.markFailed(runID: failed.runID, attempt: 1, reason: "non-finite loss")
        try finishRun(store, other, epochs: 0, finalAccuracy: 60, bestAccuracy: 61)

        try Reports.write(store: store, to: fixture.folder)

        let table = try readCSV(fixture.folder, "table.csv")
        #expect(table.dropFirst().map { Array($0.prefix(3)) } == [
            ["kd", "L0", "1"], ["kd", "L1", "1"],
        ])
    }

    // MARK: - Plot

    @Test("plot has one polyline per method and rung")
    func plotLines() throws {
        let fixture = try StoreFixture()
        let runs = [
            StoreFixture.record(index: 0, method: "vanilla_kd", rung: "L0", seed: 1),
            StoreFixture.record(index: 1, method: "vanilla_kd", rung: "L0", seed: 2),
            StoreFixture.record(index: 2, method: "asib", rung: "L1", seed: 1),
            StoreFixture.record(index: 3, method: "asib", rung: "L2", seed: 1),
            StoreFixture.record(index: 4, method: "teacher", kind: "teacher"),
        ]
        let store = try fixture.storeWithPlan(runs)
        for run in runs {
            try finishRun(store, run, epochs: 3, finalAccuracy: 3, bestAccuracy: 3)
        }

        try Reports.write(store: store, to: fixture.folder)

        let svg = try String(
            contentsOf: fixture.folder.appendingPathComponent("plots/accuracy.svg"),
            encoding: .utf8
        )
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        #expect(svg.contains(">vanilla_kd / L0<"))
        #expect(svg.contains(">asib / L1<"))
        #expect(svg.contains(">asib / L2<"))
        #expect(!svg.contains("teacher / L0"))
        #expect(svg.hasSuffix("</svg>\n"))
    }

    @Test("plot escapes labels")
    func plotEscapes() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0, method: "a<b&c", rung: "\"L0\"")
        let store = try fixture.storeWithPlan([run])
        try finishRun(store, run, epochs: 1, finalAccuracy: 1, bestAccuracy: 1)

        try Reports.write(store: store, to: fixture.folder)

        let svg = try String(
            contentsOf: fixture.folder.appendingPathComponent("plots/accuracy.svg"),
            encoding: .utf8
        )
        #expect(svg.contains("a&lt;b&amp;c / &quot;L0&quot;"))
        #expect(!svg.contains("a<b"))
    }

    @Test("reports for an empty sweep have headers only")
    func emptySweep() throws {
        let fixture = try StoreFixture()
        let store = try fixture.storeWithPlan([])

        try Reports.write(store: store, to: fixture.folder)

        #expect(try readCSV(fixture.folder, "summary.csv") == [Self.fixedSummaryColumns])
        #expect(try readCSV(fixture.folder, "epochs.csv").count == 1)
        #expect(try readCSV(fixture.folder, "table.csv").count == 1)
        let svg = try String(
            contentsOf: fixture.folder.appendingPathComponent("plots/accuracy.svg"),
            encoding: .utf8
        )
        #expect(!svg.contains("<polyline"))
    }
}
