// OpenCV's thread count, for threads.go (cv::setNumThreads is C++ only).
#include <opencv2/core/utility.hpp>

extern "C" void efferentCVSetThreads(int n) { cv::setNumThreads(n); }
extern "C" int efferentCVThreads(void) { return cv::getNumThreads(); }
