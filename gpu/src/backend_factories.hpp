// The backends behind make_backend; the CUDA ones come from cuda_backend.cpp or, in a build
// without nvcc, from cuda_absent.cpp.
#pragma once

#include <memory>
#include <string>

#include "bftgate/gpu/backend.hpp"

namespace bftgate::gpu::detail {

Result<std::unique_ptr<ServingBackend>> make_cpu_backend(const validation::DenseStackModel& model,
                                                         const BackendOptions& options);
Result<std::unique_ptr<ServingBackend>> make_cuda_backend(const validation::DenseStackModel& model,
                                                          const BackendOptions& options);
bool built_with_cuda();
int cuda_device_count();           // 0 without CUDA, a driver or a device
std::string cuda_probe_message();  // why the count is 0 (the CUDA runtime's error)

}  // namespace bftgate::gpu::detail
