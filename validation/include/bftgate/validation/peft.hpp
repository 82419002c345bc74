// LoRA adapters in the Hugging Face PEFT format: a directory with adapter_config.json
// (peft_type "LORA", r, lora_alpha, target_modules, base_model_name_or_path, use_rslora, bias
// "none", ...) and adapter_model.safetensors (base_model.model.<module>.lora_A.weight [r, in] and
// .lora_B.weight [out, r]). Loading checks the adapter against the base model and refuses, with
// a reason: another base model, unknown modules, wrong shapes, rank above the limit, a missing
// or extra tensor, and features bftgate does not implement (DoRA, modules_to_save, bias other
// than "none", rank_pattern/alpha_pattern, non-finite weights).
//
// A packed adapter is the one-file form the artifact store and certificates address: the
// safetensors file with the config JSON (canonical dump) in __metadata__["peft_adapter_config"].
#pragma once

#include <filesystem>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/validation/lora.hpp"
#include "bftgate/validation/safetensors.hpp"

namespace bftgate::validation {

struct AdapterLimits {
  int max_rank = 64;
};

inline constexpr const char* kPackedConfigKey = "peft_adapter_config";

// From a PEFT directory or a packed adapter file.
Result<LoraAdapter> load_peft_adapter(const std::filesystem::path& dir_or_packed_file,
                                      const BaseModelShape& base, const AdapterLimits& limits = {});
// Same checks on bytes of a packed adapter.
Result<LoraAdapter> parse_packed_adapter(ByteView packed, const BaseModelShape& base,
                                         const AdapterLimits& limits = {});

// The checks that need no base model: a well-formed safetensors file whose metadata holds a
// supported adapter config (what `submit` checks before it uploads a packed file).
Status check_packed_adapter(ByteView packed, const AdapterLimits& limits = {});

// Writes adapter_config.json and adapter_model.safetensors (dtype F32, F16 or BF16) into dir,
// creating it and replacing the files there. Refuses an adapter that would load as another one:
// deltas not one per config.target_modules entry in that order, a rank other than config.rank,
// non-finite weights, or a delta whose scaling is not config.scaling() (the file stores alpha
// and r only).
Status write_peft_adapter(const std::filesystem::path& dir, const LoraAdapter& adapter,
                          DType dtype = DType::kF32);
// The packed form of a PEFT directory (for upload), and writing it.
// pack_peft_adapter keeps each tensor's dtype and bytes and the config as PEFT wrote it (canonical
// dump: sorted keys, no whitespace).
Result<Bytes> pack_peft_adapter(const std::filesystem::path& dir);
// The packed form of an in-memory adapter: the bytes write_packed_adapter writes, equal to
// pack_peft_adapter of the directory write_peft_adapter writes with the same dtype.
Result<Bytes> encode_packed_adapter(const LoraAdapter& adapter, DType dtype = DType::kF32);
Status write_packed_adapter(const std::filesystem::path& file, const LoraAdapter& adapter,
                            DType dtype = DType::kF32);

}  // namespace bftgate::validation
