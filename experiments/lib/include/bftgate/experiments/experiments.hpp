// The experiments of the registry (experiment.hpp), one factory each.
#pragma once

#include <memory>

#include "bftgate/experiments/experiment.hpp"

namespace bftgate::experiments {

std::unique_ptr<Experiment> make_convergence();       // Vaidyanathan's convergence bound
std::unique_ptr<Experiment> make_consistability();    // Aiyer et al.'s consistency classes
std::unique_ptr<Experiment> make_exposure();          // bad-adapter exposure per strategy
std::unique_ptr<Experiment> make_convergence_real();  // real processes vs the simulator
std::unique_ptr<Experiment> make_smr_vs_consensus();  // Antoniadis et al.: SMR command vs consensus
std::unique_ptr<Experiment> make_adversaries();       // strategies x Byzantine count x n
std::unique_ptr<Experiment> make_scale();             // n from 4 to 100
std::unique_ptr<Experiment> make_reconfiguration();   // epoch changes: cost and safety

}  // namespace bftgate::experiments
