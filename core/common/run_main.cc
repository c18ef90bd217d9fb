// Error-to-exit-code translation for mains.
#include "core/common/run_main.h"

#include <exception>
#include <iostream>

#include "core/common/error.h"

namespace dpo {

int RunMain(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << program << ": " << ErrorKindName(e.kind()) << ": " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dpo
