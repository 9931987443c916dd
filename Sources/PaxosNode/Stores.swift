import PaxosCore
import PaxosStore

extension AcceptorStore: AcceptorPersistence {}
extension LearnerStore: LearnerPersistence {}
extension ProposerStore: ProposerPersistence {}
