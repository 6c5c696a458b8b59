import Foundation

/// Position and accuracies of a run across its stages; resume checkpoints store it.
struct RunProgress: Equatable {
    /// A-Step epochs completed, counted across stages.
    var teacherEpochs = 0
    /// Student epochs completed, counted across stages.
    var studentEpochs = 0
    /// Best and last student test accuracy (percent).
    var best = 0.0
    var final = 0.0
}

extension TrainingSession {
    /// Prepares the B-Step of a 1-based stage before its first epoch: sets the synergy gate
    /// from the A-Step and copies the student into the EMA teacher afresh, as the original
    /// does at the start of every B-Step.
    func beginStudentStage(_ stage: Int) {
        prepareSynergyGate()
        emaTeacher?.reset(from: student)
    }

    /// Applies the partial freeze of a 1-based stage's B-Step (see `PartialFreeze` and
    /// `ASIBOptions.studentFreezeLevel(stage:)`). Levels >= 1 freeze the student adapter as
    /// well, because it is neither a late stage nor the classifier.
    func applyStudentFreeze(stage: Int) {
        let settings = options.asib
        let level = settings.studentFreezeLevel(stage: stage)
        trainableRanges = level.flatMap {
            PartialFreeze.trainableRanges(
                model: student, level: $0, freezeBN: settings.studentFreezeBN
            )
        }
        studentAdapterFrozen = (level ?? -1) >= 1
    }

    /// Named buffers beyond the student and its optimiser that a resumed run needs: IB_MBM,
    /// the synergy head, the adapters, their AdamW states, the student adapter's B-Step
    /// optimiser state, the EMA teacher, and the FitNet regressor and its momentum.
    func resumeBuffers() -> [ResumeCheckpoint.Buffer] {
        var buffers: [ResumeCheckpoint.Buffer] = []
        if let synergy {
            for (name, store, optimiser) in synergy.stateBuffers {
                if let store {
                    buffers.append(.init(name: name, values: Self.values(of: store)))
                } else if let optimiser {
                    buffers.append(.init(name: name, values: optimiser.stateValues))
                }
            }
            // The running synergy win ratio of the IB_MBM skip rule, as the two 32-bit
            // halves of its Float64 bit pattern, so that it is restored exactly.
            let bits = synergyWinRatio.bitPattern
            buffers.append(.init(
                name: "synergy.win_ratio",
                values: [Float(bitPattern: UInt32(truncatingIfNeeded: bits >> 32)),
                         Float(bitPattern: UInt32(truncatingIfNeeded: bits))]
            ))
        }
        if let studentAdapterOptimiser {
            buffers.append(
                .init(name: "adapter.student.b_step", values: studentAdapterOptimiser.stateValues)
            )
        }
        if let emaTeacher {
            buffers.append(.init(name: "ema.parameters", values: Self.values(of: emaTeacher.model.parameters)))
            buffers.append(.init(name: "ema.statistics", values: Self.values(of: emaTeacher.model.statistics)))
            buffers.append(.init(name: "ema.steps", values: [Float(emaTeacher.steps)]))
        }
        // Only FitNet runs build the objective here, because the other methods store nothing.
        if options.distillation.method == .fitnet {
            buffers += objective.resumeBuffers
        }
        return buffers
    }

    /// Restores the buffers of `resumeBuffers`. Returns false, changing nothing, unless the
    /// names and sizes match this session's exactly.
    func restoreBuffers(_ saved: [ResumeCheckpoint.Buffer]) -> Bool {
        let expected = resumeBuffers()
        guard expected.map(\.name) == saved.map(\.name),
              expected.map(\.values.count) == saved.map(\.values.count)
        else { return false }
        let values = Dictionary(uniqueKeysWithValues: saved.map { ($0.name, $0.values) })
        if let synergy {
            for (name, store, optimiser) in synergy.stateBuffers {
                if let store {
                    Self.copy(values[name]!, into: store)
                } else if let optimiser {
                    optimiser.stateValues = values[name]!
                }
            }
            let halves = values["synergy.win_ratio"]!.map { UInt64($0.bitPattern) }
            synergyWinRatio = Double(bitPattern: halves[0] << 32 | halves[1])
        }
        if let studentAdapterOptimiser {
            studentAdapterOptimiser.stateValues = values["adapter.student.b_step"]!
        }
        if let emaTeacher {
            Self.copy(values["ema.parameters"]!, into: emaTeacher.model.parameters)
            Self.copy(values["ema.statistics"]!, into: emaTeacher.model.statistics)
            emaTeacher.steps = Int(values["ema.steps"]![0])
        }
        if options.distillation.method == .fitnet {
            objective.restoreBuffers(values)
        }
        return true
    }

    private static func values(of store: ParameterStore) -> [Float] {
        Array(UnsafeBufferPointer(start: store.values, count: store.count))
    }

    private static func copy(_ values: [Float], into store: ParameterStore) {
        values.withUnsafeBufferPointer { store.values.update(from: $0.baseAddress!, count: store.count) }
    }
}
