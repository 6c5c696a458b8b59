import ASIBSlurm

/// Help texts, one per subcommand, kept together so their wording stays consistent.
enum Help {
    static let overview = """
        USAGE: asib-sweep <subcommand> [options]

        Plans and runs knowledge-distillation sweeps on CPU workers.

        SUBCOMMANDS:
          plan     Expand a sweep spec into its index map (--dry-run changes no file).
          launch   Run a sweep: a coordinator plus local workers (--local N) or Slurm job
                   arrays (--array).
          status   Show the state of each run in a results folder, and of its Slurm jobs.
          cancel   Cancel the Slurm job arrays of a results folder.
          report   Rewrite summary.csv, epochs.csv, table.csv and plots from sweep.db.
          hash     Print the config-lock SHA-256 of an effective config (JSON or YAML).
          keys     Create CURVE key pairs for authenticated workers.
          ingest   Merge worker spool folders into a results folder's sweep.db.

        Run 'asib-sweep <subcommand> --help' for the options of one subcommand.
        """

    static let plan = """
        USAGE: asib-sweep plan [--dry-run] [--format text|json] [--only AXIS=V[,V...]]...
                               [--out DIR] [--configs DIR] SPEC [KEY=VALUE ...]
               asib-sweep plan --explain INDEX [--only ...] [--configs DIR] SPEC [KEY=VALUE ...]

        Expands SPEC (a sweep file such as sweeps/quickstart.yaml) into runs, each with the
        SHA-256 of its locked effective config.

        OPTIONS:
          --dry-run          Print the plan and write nothing.
          --explain INDEX    Print every key of run INDEX's effective config with its value
                             and the file:line:column or override that set it, marking keys
                             the config lock ignores; writes nothing.
          --format FORMAT    text (default: one line per run) or json.
          --only AXIS=VALUES Keep only these values of a student axis (method, rung, seed);
                             repeatable. Teachers no remaining run needs are dropped.
          --out DIR          Results folder for plan.json (default: results/<sweep name>).
          --configs DIR      Config tree (default: configs/ beside the spec's sweeps/ folder).
          KEY=VALUE          Overrides applied to every run, after the spec's own.
        """

    static let launch = """
        USAGE: asib-sweep launch --local N [--only AXIS=V[,V...]]... [--out DIR] [--configs DIR]
                                 [--port PORT] [--bind ADDRESS] [--keys DIR]
                                 [--max-attempts N] [--worker-restarts N] SPEC [KEY=VALUE ...]
               asib-sweep launch --array [--dry-run] [--detach] [--bind ADDR] [SLURM OPTIONS]
                                 [--port PORT] [--max-attempts N] [...] SPEC [KEY=VALUE ...]

        Plans SPEC, starts the coordinator and N local asib-worker processes (--local N) or
        Slurm job arrays whose tasks run asib-worker (--array), and stays in the foreground
        until every run has finished. Runs already done in the results folder (same run id and
        config hash) are not repeated, and runs that sweep.db lists as running are reclaimed by
        their reconnecting workers or queued again. A run whose config changed starts as a new
        run; the old one is kept as RUN_ID@HASH12. One launch at a time may use a results
        folder.

        With --array, teacher runs get a job array of their own and student runs get arrays
        submitted with --dependency=afterok on it. Arrays larger than the cluster's
        MaxArraySize are split. The job IDs go to DIR/slurm-jobs.json for 'status' and
        'cancel', the task logs to DIR/logs/slurm/. Interrupting the launch cancels the arrays.

        OPTIONS:
          --local N          Number of local worker processes (0-64). Each gets
                             max(1, cores / N) BLAS threads. With 0 the coordinator waits
                             for workers started elsewhere (asib-worker --connect).
          --port PORT        Coordinator TCP port (default: chosen by the OS). Give a fixed
                             port when workers must reconnect after a coordinator restart.
          --bind ADDRESS     Address to listen on (default 127.0.0.1). Any other address
                             needs --keys, or --allow-insecure-bind.
          --keys DIR         CURVE key folder made by 'asib-sweep keys DIR': only workers
                             whose public keys DIR/authorized_workers lists may connect.
          --allow-insecure-bind
                             Accept a non-loopback --bind without --keys (anyone who can
                             reach the port can take and report work).
          --max-attempts N   Attempts per run before it counts as failed (default 2).
          --worker-restarts N
                             Local workers that may be started in place of workers that
                             died (default 2 x --local).
          --out, --configs, --only, KEY=VALUE: as for 'plan'.

        OPTIONS FOR --array:
          --bind ADDR           Address the coordinator listens on and the tasks connect to
                                (default 127.0.0.1, which only tasks on this machine reach).
          --dry-run             Print the sbatch scripts and command lines; write and submit
                                nothing.
          --detach              Run the coordinator in the background (log in
                                DIR/logs/coordinator.log) and return after submission.
        """ + "\n" + SlurmOptions.helpText

    static let status = """
        USAGE: asib-sweep status DIR

        Prints each run of the results folder DIR with its status, attempts and accuracy and,
        for a sweep launched with --array, the squeue state of its job arrays.
        """

    static let cancel = """
        USAGE: asib-sweep cancel DIR

        Cancels the Slurm job arrays that 'asib-sweep launch --array' submitted for the results
        folder DIR (the job IDs in DIR/slurm-jobs.json, and only jobs with the sweep's job name).
        """

    static let report = """
        USAGE: asib-sweep report DIR

        Rewrites DIR/summary.csv, DIR/epochs.csv, DIR/table.csv and DIR/plots from DIR/sweep.db.
        """

    static let hash = """
        USAGE: asib-sweep hash [--no-sanitize] FILE

        Prints the SHA-256 of the canonical JSON of the effective config in FILE (JSON or
        YAML). Keys the runtime may change after the lock are removed first unless
        --no-sanitize is given.
        """

    static let keys = """
        USAGE: asib-sweep keys DIR

        Creates the CURVE key folder DIR (mode 0700, files 0600): coordinator.pub and
        coordinator.secret, worker.pub and worker.secret, and authorized_workers, which lists
        worker.pub. Pass --keys DIR to 'launch' and to 'asib-worker'. To admit workers with
        other keys, add their public keys to authorized_workers, one per line.
        """

    static let ingest = """
        USAGE: asib-sweep ingest DIR SPOOL...

        Stores the records left in worker spool folders (asib-worker --spool) in DIR/sweep.db:
        epoch metrics of started attempts, and DONE or FAIL of attempts still running there.
        Records stored before are skipped, so ingesting a folder twice changes nothing. Run it
        while no coordinator serves DIR, then 'asib-sweep report DIR'.
        """
}
