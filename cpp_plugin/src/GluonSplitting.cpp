// Step 2: non-perturbative g -> q qbar (Herwig 7.3 PartonSplitter::splitTimeLikeGluon,
// Split = uds): flavour drawn with weights SplitPwt{U,D,S}quark among the flavours that are
// kinematically open (2 m_q < m_g), cos(theta*) and phi* flat in the gluon rest frame,
// both daughters on their constituent mass shell.
#include <cmath>
#include <sstream>

#include "hadml/ClusterSteps.h"
#include "hadml/Kinematics.h"
#include "hadml/Variations.h"

namespace hadml {

void splitGluons(std::vector<Parton>& partons, const ClusterParams& params, Random& rng,
                 WeightRecorder* weights) {
  const int flavours[3] = {2, 1, 3};  // u, d, s (order of Herwig's rnd3(u, d, s))
  const double pwt[3] = {params.SplitPwtUquark, params.SplitPwtDquark,
                             params.SplitPwtSquark};
  const std::size_t nIn = partons.size();
  for (std::size_t i = 0; i < nIn; ++i) {
    if (partons[i].id != 21 || partons[i].split) continue;
    const LorentzVector pg = partons[i].p;
    const double mg = pg.m();
    double open[3];
    double sum = 0.0;
    for (int k = 0; k < 3; ++k) {
      const double mq = params.constituentMass(flavours[k]);
      open[k] = 2.0 * mq < mg ? pwt[k] : 0.0;
      sum += open[k];
    }
    if (!(sum > 0.0)) {
      std::ostringstream msg;
      msg << "gluon splitting: gluon " << i << " has mass " << mg
          << " GeV, too light for any g -> q qbar (reshuffle to constituent masses first)";
      throw HadronizationError(msg.str());
    }
    double r = rng.flat() * sum;
    int k = 0;
    while (k < 2 && (r >= open[k] || open[k] == 0.0)) {
      r -= open[k];
      ++k;
    }
    while (open[k] == 0.0) --k;  // guard against rounding at the upper edge
    const int q = flavours[k];
    if (weights && weights->wants(kVarySplit)) {
      // The open flavours depend on masses only: the same set at every varied point.
      weights->ratio(kVarySplit, open[k] / sum, [&](const Variation& v) {
        const double w[3] = {v.params.SplitPwtUquark, v.params.SplitPwtDquark,
                             v.params.SplitPwtSquark};
        double s = 0.0;
        for (int j = 0; j < 3; ++j) s += open[j] > 0.0 ? w[j] : 0.0;
        return w[k] / s;
      });
    }
    const double mq = params.constituentMass(q);
    const double cosTheta = rng.uniform(-1.0, 1.0);
    const double phi = rng.uniform(-M_PI, M_PI);
    const TwoBodyDecay d = decayTwoBody(pg, mq, mq, unitFromAngles(cosTheta, phi));

    Parton quark;
    quark.id = q;
    quark.col = partons[i].col;
    quark.p = d.p1;
    quark.mass = mq;
    quark.perturbative = false;
    quark.source = static_cast<int>(i);
    Parton antiquark = quark;
    antiquark.id = -q;
    antiquark.col = 0;
    antiquark.acol = partons[i].acol;
    antiquark.p = d.p2;
    partons[i].split = true;
    partons.push_back(quark);
    partons.push_back(antiquark);
  }
}

}  // namespace hadml
