import ASIBSupport

/// Failures of reading a sweep spec, planning it and loading plan.json. All are bad input
/// (exit 64).
public enum PlanError: ReportableError, Equatable {
    case specNotFound(path: String, available: [String])
    case invalidSpec(place: String, key: String, reason: String)
    case unknownSpecKey(place: String, key: String, suggestion: String?, allowed: [String])
    case unknownMethod(name: String, place: String, known: [String])
    case unknownRung(name: String, place: String, known: [String])
    case emptyAxis(axis: String, place: String)
    case duplicateAxisValue(axis: String, value: String, place: String)
    case invalidOnlyFilter(axis: String, values: [String], reason: String)
    case missingTeachers(method: String, kdAlpha: Double, needed: [String])
    case duplicateRunID(runID: String)
    case duplicateConfig(first: String, second: String, hash: String)
    case plannedKeyOverride(text: String, key: String)
    case invalidPlanFile(reason: String)
    case planHashMismatch(stored: String, computed: String)

    public var exitCode: Int32 { ExitCode.usage }

    public var description: String {
        switch self {
        case .specNotFound(let path, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "sweep spec '\(path)' not found; sweep files next to it: \(list)"
        case .invalidSpec(let place, let key, let reason):
            return "\(place): invalid '\(key)': \(reason)"
        case .unknownSpecKey(let place, let key, let suggestion, let allowed):
            let hint = suggestion.map { "did you mean `\($0)`? " } ?? ""
            return "\(place): unknown key '\(key)': \(hint)allowed keys are "
                + allowed.joined(separator: ", ")
        case .unknownMethod(let name, let place, let known):
            return "\(place): unknown method '\(name)': known methods (configs/method/) are "
                + known.joined(separator: ", ")
        case .unknownRung(let name, let place, let known):
            return "\(place): unknown rung '\(name)': known rungs are none (no rung file), "
                + known.joined(separator: ", ")
        case .emptyAxis(let axis, let place):
            return "\(place): axis '\(axis)' is empty; give at least one value"
        case .duplicateAxisValue(let axis, let value, let place):
            return "\(place): axis '\(axis)' lists '\(value)' twice; remove the repeat"
        default:
            return planDescription
        }
    }

    private var planDescription: String {
        switch self {
        case .invalidOnlyFilter(let axis, let values, let reason):
            return "invalid --only filter '\(axis)=\(values.joined(separator: ","))': \(reason)"
        case .missingTeachers(let method, let kdAlpha, let needed):
            return "method '\(method)' distils (kd_alpha \(kdAlpha)) but the sweep file does not define "
                + "teachers \(needed.joined(separator: ", ")); add them under 'teachers:'"
        case .duplicateRunID(let runID):
            return "two runs get the id '\(runID)'; make the axis values or teacher slots distinct"
        case .duplicateConfig(let first, let second, let hash):
            return "runs '\(first)' and '\(second)' have the same config (config_sha256 "
                + "\(hash.prefix(12))), so one result would count twice; check the sweep file's "
                + "overrides for a key that hides an axis such as seed or method"
        case .plannedKeyOverride(let text, let key):
            return "override '\(text)' from the command line would set '\(key)' for every run, "
                + "teachers included, while run ids still name the sweep's axis values; select "
                + "axis values with --only (e.g. --only seed=7 after adding 7 to the axis) or "
                + "edit the sweep file"
        case .invalidPlanFile(let reason):
            return "invalid plan.json: \(reason); re-create it with 'asib-sweep plan'"
        case .planHashMismatch(let stored, let computed):
            return "plan.json was edited: its plan_sha256 is \(stored) but its runs hash to "
                + "\(computed); re-create it with 'asib-sweep plan'"
        default:
            return "plan error"
        }
    }
}
