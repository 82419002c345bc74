// Never built by default: CoreFloor.FileIoAndConfigAreOutOfReach builds it and expects the
// include below to fail, because the core links only base and crypto (bft/core/CMakeLists.txt).
#include "bftgate/core/replica.hpp"
#include "bftgate/io/file_io.hpp"
