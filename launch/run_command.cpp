#include "launch/run_command.h"

#include "common/errors.h"
#include "launch/run_phases.h"

namespace shardrt::launch {

int runCommand(const RunOptions& options, const comm::MpiSession& mpi) {
  RunState run(options, mpi);
  if (!agree(run)) return kExitBadInput;
  if (!build(run)) return kExitBadInput;
  measure(run);
  if (!trace(run)) return kExitInternal;
  validate(run);
  report(run);
  const std::optional<ValidationReport>& validation = run.report.validation;
  return validation && !validation->passed ? kExitValidationFailed : kExitOk;
}

}  // namespace shardrt::launch
