/// The partial freeze of a student: which parameters its optimiser updates at a freeze level.
///
/// - level < 0: every parameter trains, whatever `freezeBN` says.
/// - level 0: every parameter trains except, with `freezeBN`, the BN gamma and beta.
/// - level 1: only the last stage (`layer3.*` for the CIFAR ResNets) and the classifier
///   (`fc.*`) train.
/// - level >= 2: the second-to-last stage (`layer2.*`) trains as well.
/// - At levels >= 0 every BN gamma and beta then trains exactly when `freezeBN` is false,
///   including those of frozen stages, as the original ASIB freeze function does.
///
/// Frozen parameters keep their values and optimiser state: the optimiser skips them, so
/// weight decay and momentum do not move them either. BN running statistics keep updating in
/// training mode, as PyTorch does for parameters without gradients. The frozen stages are
/// the first ones, whose inputs do not change while they are frozen, so their statistics only
/// keep averaging the same input distribution.
enum PartialFreeze {
    /// Returns the sorted, merged ranges of `model.parameters` that train at `level`, nil when
    /// every parameter trains.
    static func trainableRanges(model: ResNetModel, level: Int, freezeBN: Bool) -> [Range<Int>]? {
        guard level >= 0 else { return nil }
        let suffix = ".running_mean"
        let normLayers = Set(model.statistics.entries.compactMap { entry in
            entry.name.hasSuffix(suffix) ? String(entry.name.dropLast(suffix.count)) : nil
        })
        let stageCount = model.architecture.stageWidths.count
        let trainedStages = (max(1, stageCount - min(level, 2) + 1)...stageCount).map {
            "layer\($0)."
        }
        var ranges: [Range<Int>] = []
        for entry in model.parameters.entries {
            let layer = entry.name.split(separator: ".").dropLast().joined(separator: ".")
            let trainable: Bool
            if normLayers.contains(layer) {
                trainable = !freezeBN
            } else if level == 0 {
                trainable = true
            } else {
                trainable = entry.name.hasPrefix("fc.")
                    || trainedStages.contains { entry.name.hasPrefix($0) }
            }
            guard trainable else { continue }
            let range = entry.offset..<(entry.offset + entry.count)
            if let last = ranges.last, last.upperBound == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                ranges.append(range)
            }
        }
        if ranges == [0..<model.parameters.count] { return nil }
        return ranges
    }
}
