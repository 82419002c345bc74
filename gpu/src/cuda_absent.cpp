// make_backend's CUDA entry points in a build without nvcc: no device, and a clear reason.
#include "backend_factories.hpp"

namespace bftgate::gpu::detail {

bool built_with_cuda() {
  return false;
}
int cuda_device_count() {
  return 0;
}
std::string cuda_probe_message() {
  return "built without CUDA";
}

Result<std::unique_ptr<ServingBackend>> make_cuda_backend(const validation::DenseStackModel&,
                                                          const BackendOptions&) {
  return Error{
      "CUDA backend unavailable: this build has no CUDA support (configured without nvcc or with "
      "BFTGATE_CUDA=OFF)"};
}

}  // namespace bftgate::gpu::detail
