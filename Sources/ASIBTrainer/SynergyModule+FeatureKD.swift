import Foundation

// Shapes: pooled features and their gradient [F, B] (feature-major); student feature rows
// and their gradient [B, D]; IB_MBM mean rows [B, E].

/// The student side of the B-Step feature-KD term (see `FeatureKDLoss`): the student's
/// `feat_kd_key` feature, which is the IB_MBM query feature, computed from the pooled feature
/// of the forward that the student trains on, and its backward into that pooled feature.
extension SynergyModule {
    /// Returns why the feature-KD term of a run with these options can never apply, or nil
    /// when it can (or `feat_kd_alpha` is 0). The term compares the student feature with
    /// IB_MBM's mean, so their widths must match. The original ASIB code skips the term
    /// silently on every batch when they differ; the trainer logs this reason once at start.
    static func featureKDSkipReason(options: ASIBOptions, studentWidth: Int) -> String? {
        guard options.featureKDAlpha > 0 else { return nil }
        guard options.enabled else {
            return "IB_MBM is off (needs use_ib: true and teacher_adapt_epochs > 0)"
        }
        let width = options.queryFromAdapter
            ? DistillationAdapter.widths(
                features: studentWidth, outDim: options.distillOutDim,
                hiddenDim: options.distillHiddenDim
            ).out
            : studentWidth
        guard width != options.embed else { return nil }
        let feature = options.queryFromAdapter
            ? "the student adapter output (feat_kd_key: distill_feat, distill_out_dim)"
            : "the student's pooled feature (feat_kd_key: feat_2d)"
        return "\(feature) has width \(width) but IB_MBM's mean has width \(options.embed) "
            + "(ib_mbm_out_dim); set them equal to train with feature KD"
    }

    /// Whether the B-Step adds the feature-KD term on batches where IB_MBM runs.
    var appliesFeatureKD: Bool { options.featureKDAlpha > 0 && queryWidth == options.embed }

    /// Writes the student feature rows `[B, D]` for the pooled feature `studentPooled` of the
    /// student's training forward: the student adapter output for `distill_feat`, else the
    /// pooled feature itself. This reruns the student adapter, so `backwardStudentFeature`
    /// must follow before the adapter runs on another input.
    func writeStudentFeature(
        output: UnsafeMutablePointer<Float>, studentPooled: UnsafePointer<Float>, batch: Int
    ) {
        if let studentAdapter {
            studentAdapter.forward(pooled: studentPooled, batch: batch)
            output.update(from: studentAdapter.output.data, count: batch * queryWidth)
            return
        }
        for b in 0..<batch {
            for c in 0..<studentWidth { output[b * studentWidth + c] = studentPooled[c * batch + b] }
        }
    }

    /// Writes the pooled-feature gradient `[F, B]` for the student feature gradient
    /// `featureGradient` `[B, D]`, overwriting `pooledGradient`. With a student adapter, its
    /// parameter gradients are added too, so zero them first.
    func backwardStudentFeature(
        featureGradient: UnsafePointer<Float>, pooledGradient: UnsafeMutablePointer<Float>,
        batch: Int
    ) {
        guard let studentAdapter else {
            for b in 0..<batch {
                for c in 0..<studentWidth {
                    pooledGradient[c * batch + b] = featureGradient[b * studentWidth + c]
                }
            }
            return
        }
        let inputGradient = Tensor(shape: [batch, studentWidth])
        studentAdapter.backward(
            outputGradient: featureGradient, inputGradient: inputGradient.data, batch: batch
        )
        for b in 0..<batch {
            for c in 0..<studentWidth {
                pooledGradient[c * batch + b] = inputGradient.data[b * studentWidth + c]
            }
        }
    }
}
