import Foundation
import Testing

@Suite("launch command")
struct LaunchTests {
    @Test("smoke sweep over two workers fills the tables")
    func smokeSweep() throws {
        let out = try ExecutableRunner.temporaryDirectory("smoke")
        let result = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--local", "2", "--out", out.path, "sweeps/smoke.yaml"], timeout: 600
        )
        #expect(result.status == 0, "stdout: \(result.output)\nstderr: \(result.error)")

        let plan = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-run", "--format", "json", "sweeps/smoke.yaml"])
        let planObject = try #require(
            try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any]
        )
        let plannedRuns = try #require(planObject["runs"] as? [[String: Any]])

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        #expect(summary.rows.count == plannedRuns.count)
        for row in summary.rows {
            #expect(row.count == summary.header.count)
            #expect(summary.value(row, "status") == "done")
            #expect(summary.value(row, "attempts") == "1")
        }
        let students = summary.rows.filter { summary.value($0, "kind") == "student" }
        #expect(students.count >= 6)
        for row in students {
            let accuracy = Double(summary.value(row, "final_student_acc") ?? "") ?? -1
            // Chance on Fashion-MNIST is 10%; two epochs on 1000 images reach about 45%.
            #expect(accuracy > 25, "run \(row[1]) final accuracy \(accuracy)")
        }
        // Teacher runs train the network in model.student, so their epochs are student epochs.
        for column in ["student_ep1_acc", "student_ep2_acc", "student_ep2_kd"] {
            #expect(summary.column(column) != nil, "missing column \(column)")
        }

        let epochs = try CSVTable(url: out.appendingPathComponent("epochs.csv"))
        #expect(Array(epochs.header.prefix(8)) == [
            "run_id", "method", "rung", "seed", "attempt", "phase", "global_epoch", "local_epoch",
        ])
        #expect(epochs.rows.count >= plannedRuns.count)

        let table = try CSVTable(url: out.appendingPathComponent("table.csv"))
        #expect(table.header == [
            "method", "rung", "n_seeds", "final_acc_mean", "final_acc_std", "best_acc_mean", "best_acc_std",
        ])
        #expect(table.rows.count == 3)
        for row in table.rows {
            #expect(table.value(row, "n_seeds") == "2")
        }
        for run in plannedRuns {
            let id = try #require(run["run_id"] as? String)
            let config = out.appendingPathComponent("runs/\(id)/config.json")
            #expect(FileManager.default.fileExists(atPath: config.path), "missing \(config.path)")
        }

        // A second launch on the same folder finds every run done and trains nothing.
        let again = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--local", "1", "--out", out.path, "sweeps/smoke.yaml"], timeout: 120
        )
        #expect(again.status == 0, "stderr: \(again.error)")
        #expect(!again.output.contains("started "))
    }
}
