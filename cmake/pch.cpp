// The translation unit that makes the precompiled header every C++ target reuses
// (cmake/precompiled_headers.cmake); it holds nothing else.
