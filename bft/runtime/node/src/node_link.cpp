#include "node_link.hpp"

#include <fmt/format.h>

namespace bftgate::runtime {

Result<LinkSecurity> node_link_security(const ClusterConfig& config, const NodeOptions& options) {
  if (options.insecure_plaintext) return LinkSecurity::insecure_plaintext();
  if (options.key.empty())
    return Error{"give this node's key (--key keys/node-<id>.key), or --insecure-plaintext"};
  auto secured = LinkSecurity::for_member(config, options.key);
  if (!secured) return secured.error();
  if (secured->member_name() != fmt::format("node-{}", options.id)) {
    return Error{fmt::format("{} is the key of {}, not of inference node {}", options.key.string(),
                             secured->member_name(), options.id)};
  }
  return secured;
}

}  // namespace bftgate::runtime
