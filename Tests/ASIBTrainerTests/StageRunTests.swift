import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Multi-stage ASIB runs and their resume on the Fashion-MNIST files of the Debian package
// dataset-fashion-mnist, composed from configs/ with two resnet8 teachers trained for one
// epoch.

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-stages-\(UUID().uuidString)")
}

private let smallData = [
    "dataset.train_limit=128", "dataset.test_limit=64", "dataset.batch_size=64",
]

private let teacherCheckpoint: Result<String, Error> = Result {
    let options = try composedOptions(["method=teacher", "seed=4", "student_epochs=1"], teachers: false)
    return try RunTrainer(options: options, runDirectory: temporaryFolder()).train { _ in }.checkpoint.path
}

private func composedOptions(_ overrides: [String], teachers: Bool = true) throws -> TrainingOptions {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    var all = smallData + overrides
    if teachers {
        let checkpoint = try teacherCheckpoint.get()
        all += [
            "model/teacher@teacher1=resnet8", "model/teacher@teacher2=resnet8",
            "+teacher1_ckpt=\(checkpoint)", "+teacher2_ckpt=\(checkpoint)",
        ]
    }
    let composed = try composer.compose(primary: "base", overrides: all, source: "test")
    return try TrainingOptions(config: composed.value)
}

/// Two stages of a two-epoch A-Step (the first synergy-only and both evaluated) and one
/// student epoch each, with trained adapters, a `distill_feat` query and, from the
/// `asib` method file, an EMA teacher and `student_freeze_level: 1` (so stage 2 freezes).
private let twoStages = [
    "method=asib", "++num_stages=2", "++student_epochs_per_stage=[1, 1]",
    "++teacher_adapt_epochs=2", "++synergy_only_epochs=1", "++teacher_eval_every=1",
    "++kd_cooldown_epochs=0", "++enable_kd_after_syn_acc=0.01", "++a_step_lr=0.001",
    "++ib_mbm_out_dim=16", "++ib_mbm_n_head=2", "++distill_out_dim=16",
    "++train_distill_adapter_only=true", "++feat_kd_key=distill_feat",
]

private struct StopRun: Error {}

private func trainer(_ options: TrainingOptions, _ folder: URL) throws -> RunTrainer {
    let trainer = try RunTrainer(options: options, runDirectory: folder)
    trainer.resumeKey = "stages"
    return trainer
}

@Suite("multi-stage runs", .serialized)
struct StageRunTests {
    @Test func stagesNumberEpochsAcrossStages() throws {
        var reports: [EpochReport] = []
        let options = try composedOptions(twoStages + ["schedule.lr_warmup_epochs=0"])
        _ = try RunTrainer(options: options, runDirectory: temporaryFolder())
            .train { reports.append($0) }
        #expect(reports.map(\.phase) == ["teacher", "teacher", "student", "teacher", "teacher", "student"])
        #expect(reports.map(\.epoch) == [1, 2, 1, 3, 4, 2])
        #expect(reports.map { $0.metrics["stage"] } == [1, 1, 1, 2, 2, 2])
        // Each A-Step starts with its synergy-only epoch.
        #expect(reports.filter { $0.phase == "teacher" }.map { $0.metrics["synergy_only"] } == [1, 0, 1, 0])
        // One cosine schedule spans both student epochs, so stage 2 continues the decay
        // instead of restarting at student_lr.
        let rates = reports.filter { $0.phase == "student" }.compactMap { $0.metrics["lr"] }
        #expect(rates.count == 2)
        #expect(rates[1] < rates[0])
        #expect(rates[1] > 0)
    }

    @Test func stageEpochListMustCoverStages() throws {
        #expect {
            _ = try RunTrainer(
                options: try composedOptions(["++num_stages=3", "++student_epochs_per_stage=[1, 1]"], teachers: false),
                runDirectory: temporaryFolder()
            )
        } throws: { error in
            "\(error)".contains("student_epochs_per_stage") && "\(error)".contains("num_stages = 3")
        }
        let options = try composedOptions(["++num_stages=2", "student_epochs=3"], teachers: false)
        #expect(options.stageEpochs == [3, 3])
        #expect(options.totalStudentEpochs == 6)
    }

    @Test func teacherFinetuningIsRejected() throws {
        #expect {
            _ = try RunTrainer(
                options: try composedOptions(["++use_teacher_finetuning=true"], teachers: false),
                runDirectory: temporaryFolder()
            )
        } throws: { error in
            "\(error)".contains("use_teacher_finetuning") && "\(error)".contains("train_distill_adapter_only")
        }
    }

    @Test func adapterQueryNeedsAdapters() throws {
        #expect {
            _ = try RunTrainer(
                options: try composedOptions(["++feat_kd_key=distill_feat"], teachers: false),
                runDirectory: temporaryFolder()
            )
        } throws: { error in
            "\(error)".contains("feat_kd_key") && "\(error)".contains("use_distillation_adapter")
        }
    }

    /// Stops a run after `completed` epochs (teacher and student), resumes it and checks that
    /// the remaining epochs and the final student match the uninterrupted run bit for bit.
    @Test(arguments: [2, 3, 5])
    func resumedStagesMatchUninterrupted(_ completed: Int) throws {
        let options = try composedOptions(twoStages)
        var straight: [EpochReport] = []
        let straightOutcome = try trainer(options, temporaryFolder()).train { straight.append($0) }

        let folder = temporaryFolder()
        var seen = 0
        #expect(throws: StopRun.self) {
            _ = try trainer(options, folder).train { _ in
                seen += 1
                if seen > completed { throw StopRun() }
            }
        }
        var resumed: [EpochReport] = []
        let resumedOutcome = try trainer(options, folder).train { resumed.append($0) }

        let tail = Array(straight.suffix(from: completed))
        #expect(resumed.map(\.phase) == tail.map(\.phase))
        #expect(resumed.map(\.epoch) == tail.map(\.epoch))
        for (got, expected) in zip(resumed, tail) {
            for name in ["loss", "acc", "syn_acc", "lr", "kd"] where expected.metrics[name] != nil {
                #expect(got.metrics[name] == expected.metrics[name], "\(got.phase) \(got.epoch) \(name)")
            }
        }
        #expect(resumedOutcome.finalAccuracy == straightOutcome.finalAccuracy)
        #expect(resumedOutcome.bestAccuracy == straightOutcome.bestAccuracy)
        let straightModel = try Checkpoint.load(path: straightOutcome.checkpoint.path)
        let resumedModel = try Checkpoint.load(path: resumedOutcome.checkpoint.path)
        #expect(straightModel == resumedModel)
    }

    @Test func oldVersionResumeFileIsIgnored() throws {
        let options = try composedOptions(twoStages)
        let folder = temporaryFolder()
        var seen = 0
        #expect(throws: StopRun.self) {
            _ = try trainer(options, folder).train { _ in
                seen += 1
                if seen > 2 { throw StopRun() }
            }
        }
        let url = folder.appendingPathComponent(ResumeCheckpoint.fileName)
        var bytes = try Data(contentsOf: url)
        // Rewrite the version to 1 with a valid CRC-32, as a version-1 writer would leave it.
        bytes.replaceSubrange(8..<12, with: [1, 0, 0, 0])
        let body = bytes.prefix(bytes.count - 4)
        let crc = Checkpoint.crc32(body)
        bytes.replaceSubrange((bytes.count - 4)..<bytes.count, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        try bytes.write(to: url)
        #expect {
            _ = try ResumeCheckpoint.load(path: url.path)
        } throws: { error in
            "\(error)".contains("version '1'")
        }
        var reports: [EpochReport] = []
        _ = try trainer(options, folder).train { reports.append($0) }
        #expect(reports.first?.phase == "teacher")
        #expect(reports.first?.epoch == 1)
        #expect(reports.count == 6)
    }
}
