import Foundation
import Testing

@Suite("relaunch")
struct RelaunchTests {
    /// Writes a sweep of two resnet8 teachers and vanilla_kd students with the given seeds,
    /// one epoch on 200 images.
    private func writeSpec(in folder: URL, seeds: [Int]) throws -> URL {
        let spec = folder.appendingPathComponent("kd.yaml")
        try """
            sweep: kd-relaunch
            config: base
            overrides:
              - dataset.train_limit=200
              - dataset.test_limit=100
              - dataset.batch_size=50
              - student_epochs=1
            teachers:
              teacher1: {model: resnet8, seed: 101}
              teacher2: {model: resnet8, seed: 102}
            students:
              model: resnet8
              axes:
                method: [vanilla_kd]
                seed: [\(seeds.map(String.init).joined(separator: ", "))]

            """.write(to: spec, atomically: true, encoding: .utf8)
        return spec
    }

    @Test("missing teacher checkpoint is trained again")
    func missingTeacherCheckpointRetrains() throws {
        let folder = try ExecutableRunner.temporaryDirectory("relaunch-teacher")
        let out = folder.appendingPathComponent("out")
        let first = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--local", "1", "--configs", "configs", "--out", out.path,
             try writeSpec(in: folder, seeds: [1]).path],
            timeout: 300
        )
        #expect(first.status == 0, "stderr: \(first.error)")

        // The teacher is done but its checkpoint is gone, and a new student needs it.
        let checkpoint = out.appendingPathComponent("runs/teacher1-resnet8-s101/checkpoint.bin")
        try FileManager.default.removeItem(at: checkpoint)
        let second = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--local", "1", "--configs", "configs", "--out", out.path,
             try writeSpec(in: folder, seeds: [1, 2]).path],
            timeout: 300
        )
        #expect(second.status == 0, "stdout: \(second.output)\nstderr: \(second.error)")
        #expect(second.output.contains("checkpoint of teacher1-resnet8-s101 is missing"))
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        let ids = summary.rows.compactMap { summary.value($0, "run_id") }
        #expect(ids.sorted() == [
            "teacher1-resnet8-s101", "teacher2-resnet8-s102", "vanilla_kd-s1", "vanilla_kd-s2",
        ])
        for row in summary.rows {
            #expect(summary.value(row, "status") == "done")
        }
        // vanilla_kd-s1 was done and is not trained again.
        #expect(!second.output.contains("started vanilla_kd-s1"))
        #expect(!second.output.contains("started teacher2"))
    }
}
