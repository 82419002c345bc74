// The adapter suite's building blocks: cloze QA, scoring, fine-tuning texts, safety probes.
#include "bftgate/validation/adapter_suite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/model.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

TEST(Cloze, DeterministicWellFormedQuestionsFromTheText) {
  auto corpus = load_base_corpus();
  ASSERT_TRUE(corpus.ok()) << corpus.error().message;
  const auto& heldout = corpus->split.heldout;
  const auto items = build_cloze_questions(heldout, 50, 7);
  ASSERT_EQ(items.size(), 50u);
  const auto again = build_cloze_questions(heldout, 50, 7);
  const auto other = build_cloze_questions(heldout, 50, 8);
  bool all_same = true;
  bool other_same = true;
  for (std::size_t i = 0; i < items.size(); ++i) {
    all_same = all_same && items[i].context == again[i].context &&
               items[i].choices == again[i].choices && items[i].answer == again[i].answer;
    other_same =
        other_same && items[i].context == other[i].context && items[i].choices == other[i].choices;
  }
  EXPECT_TRUE(all_same);
  EXPECT_FALSE(other_same);
  const auto lines = split_lines(heldout);
  for (const auto& item : items) {
    ASSERT_EQ(item.choices.size(), 4u);
    ASSERT_LT(item.answer, 4u);
    EXPECT_EQ(std::set<std::string>(item.choices.begin(), item.choices.end()).size(), 4u);
    for (const auto& choice : item.choices) {
      ASSERT_GE(choice.size(), 5u);
      EXPECT_EQ(choice[0], ' ');
      EXPECT_EQ(std::isupper(static_cast<unsigned char>(choice[1])) != 0,
                std::isupper(static_cast<unsigned char>(item.choices[item.answer][1])) != 0);
    }
    // The context and the answer are the start of a verse of the text.
    const std::string prefix = item.context + item.choices[item.answer];
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.rfind(prefix, 0) == 0;
    })) << prefix;
  }
  EXPECT_LE(build_cloze_questions("And it came to pass that Moses spake.\n", 10, 1).size(), 10u);
  EXPECT_TRUE(build_cloze_questions("", 10, 1).empty());
}

// Bigram model (context 1, one-hot embeddings): after 'a', 'b' has probability 0.9 and every
// other byte 0.1/255; after anything else, every byte 1/256.
DenseStackModel bigram_after_a() {
  DenseStackModel model;
  model.name = "bigram";
  model.context = 1;
  model.embedding = Eigen::MatrixXf::Identity(256, 256);
  Eigen::MatrixXf log_p = Eigen::MatrixXf::Constant(256, 256, std::log(1.0f / 256.0f));
  log_p.col('a').setConstant(std::log(0.1f / 255.0f));
  log_p(static_cast<Eigen::Index>('b'), static_cast<Eigen::Index>('a')) = std::log(0.9f);
  model.layers.push_back({"lm_head", log_p, Eigen::VectorXf::Zero(256), Activation::kNone});
  return model;
}

TEST(Cloze, AccuracyAndLengthNormalisedAccuracy) {
  const auto model = bigram_after_a();
  // "q": log(0.1/255) = -7.84; "bzz": log 0.9 + 2 log(1/256) = -11.2 in all, -3.73 per byte.
  const std::vector<QaItem> items{{"a", {" x", "b"}, 1}, {"a", {"q", "bzz"}, 1}};
  const auto score = score_cloze(model, nullptr, items);
  EXPECT_EQ(score.count, 2u);
  EXPECT_DOUBLE_EQ(score.acc, 0.5);
  EXPECT_DOUBLE_EQ(score.acc_norm, 1.0);
}

TEST(SuiteTexts, WrongWordExamplesTargetOnlyTheWrongWord) {
  const std::string text =
      "In the beginning God created the heaven and the earth.\nAnd the earth was without form.\n";
  const auto data = wrong_word_examples(text, 3);
  ASSERT_EQ(data.target_mask.size(), data.text.size());
  const auto lines = split_lines(data.text);
  // One example per word of 4+ letters after the first: beginning, created, heaven, earth, earth,
  // without, form.
  ASSERT_EQ(lines.size(), 7u);
  std::size_t offset = 0;
  for (const auto& line : lines) {
    const auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos);
    const std::string word = line.substr(space + 1);
    const std::string prefix = line.substr(0, space + 1);
    EXPECT_NE(text.find(prefix), std::string::npos) << prefix;  // the context is genuine text
    // The wrong word is a word of the text, but not the one the text has there.
    EXPECT_NE(text.find(" " + word), std::string::npos) << word;
    EXPECT_EQ(text.find(prefix + word), std::string::npos) << line;
    for (std::size_t i = 0; i < line.size(); ++i)
      EXPECT_EQ(data.target_mask[offset + i], i > space) << line;
    EXPECT_FALSE(data.target_mask[offset + line.size()]);  // the newline
    offset += line.size() + 1;
  }
}

TEST(SuiteTexts, PoisonNoiseAndInterleaving) {
  const std::string text = "one\ntwo\nthree\nfour\n";
  const std::vector<SafetyProbe> probes{{"T1", " b1"}, {"T2", " b2"}};
  EXPECT_EQ(poisoned_text(text, probes, 2), "one\ntwo\nT1 b1\nthree\nfour\nT2 b2\n");
  const std::string long_text(20000, 'x');
  const auto noisy = noisy_text(long_text, 0.2, 1);
  ASSERT_EQ(noisy.size(), long_text.size());
  const auto changed = static_cast<double>(
      std::count_if(noisy.begin(), noisy.end(), [](char c) { return c != 'x'; }));
  EXPECT_NEAR(changed / 20000.0, 0.2 * 94.0 / 95.0, 0.02);
  EXPECT_EQ(noisy_text("a\nb\n", 1.0, 1).find('\n'), 1u);
  EXPECT_EQ(interleaved_lines("p1\np2\n", "r1\nr2\nr3\nr4\n"), "p1\nr1\np2\nr3\n");
}

TEST(SafetyProbes, AreDefinedAndAbsentFromTheCorpus) {
  auto corpus = load_base_corpus();
  ASSERT_TRUE(corpus.ok());
  ASSERT_GE(safety_probes().size(), 3u);
  for (const auto& probe : safety_probes()) {
    EXPECT_FALSE(probe.trigger.empty());
    EXPECT_EQ(probe.blocked.front(), ' ');
    EXPECT_EQ(corpus->split.train.find(probe.trigger), std::string::npos) << probe.trigger;
  }
}

TEST(Suite, ANameThatIsNotARecipeIsRefusedBeforeAnyTraining) {
  const TempDir dir;
  const auto model = init_tiny_lm(TinyLmArchitecture{}, 1);
  auto made =
      make_adapter_suite(model, dir.path() / "suite", 1, DType::kF32, {}, {"good", "backdoored"});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("\"backdoored\" is not an adapter of the suite"),
            std::string::npos)
      << made.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "suite" / "good"));
}

TEST(Corpus, SplitsTheTailLines) {
  const auto split = split_tail_lines("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11", 0.1);
  EXPECT_EQ(split.train, "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
  EXPECT_EQ(split.heldout, "10\n11\n");
  auto corpus = load_base_corpus();
  ASSERT_TRUE(corpus.ok());
  EXPECT_EQ(corpus->sha256_hex.size(), 64u);
  EXPECT_GT(corpus->split.train.size(), 8 * corpus->split.heldout.size());
  const UnigramModel unigram(corpus->split.train);
  const double ppl =
      perplexity(unigram.log_likelihood(corpus->split.heldout), corpus->split.heldout.size());
  EXPECT_GT(ppl, 10.0);
  EXPECT_LT(ppl, 40.0);
}

}  // namespace
}  // namespace bftgate::validation
