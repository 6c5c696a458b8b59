import ASIBSupport
import Foundation

extension ResNetModel {
    /// The parameters and running statistics as a checkpoint, in declaration order.
    public func checkpoint() -> Checkpoint {
        var tensors: [Checkpoint.NamedTensor] = []
        for store in [parameters, statistics] {
            for entry in store.entries {
                let values = Array(UnsafeBufferPointer(start: store.values + entry.offset, count: entry.count))
                tensors.append(Checkpoint.NamedTensor(name: entry.name, shape: entry.shape, values: values))
            }
        }
        return Checkpoint(architecture: architecture.name, tensors: tensors)
    }

    /// Writes the checkpoint atomically to `url`.
    public func save(to url: URL) throws {
        do {
            try AtomicFile.write(checkpoint().encoded(), to: url)
        } catch let failure as RuntimeFailure {
            throw TrainerError.checkpointWriteFailed(path: url.path, problem: failure.message)
        }
    }

    /// Copies every tensor of `checkpoint` into the model after checking that the architecture,
    /// the tensor names and the shapes match.
    public func load(_ checkpoint: Checkpoint, path: String) throws {
        guard checkpoint.architecture == architecture.name else {
            throw TrainerError.checkpointInvalid(
                path: path,
                problem: "architecture '\(checkpoint.architecture)', expected '\(architecture.name)'"
            )
        }
        let expected = parameters.entries.count + statistics.entries.count
        guard checkpoint.tensors.count == expected else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "\(checkpoint.tensors.count) tensors, expected \(expected)"
            )
        }
        for tensor in checkpoint.tensors {
            let store = parameters.entry(named: tensor.name) != nil ? parameters : statistics
            guard let entry = store.entry(named: tensor.name) else {
                throw TrainerError.checkpointInvalid(
                    path: path, problem: "unexpected tensor '\(tensor.name)'"
                )
            }
            guard entry.shape == tensor.shape else {
                throw TrainerError.checkpointInvalid(
                    path: path,
                    problem: "tensor '\(tensor.name)' has shape \(tensor.shape), expected "
                        + "\(entry.shape) (input channels \(inputChannels), classes \(classes))"
                )
            }
            tensor.values.withUnsafeBufferPointer {
                (store.values + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
    }
}
